# bash completion for juno-ring(1). Install as
# /usr/share/bash-completion/completions/juno-ring.
# test/juno-ring.bats checks that every command and long option of
# `juno-ring --help` appears here.

_juno_ring_files()
{
    if declare -F _filedir >/dev/null; then
        _filedir
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}

_juno_ring()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else # without the bash-completion package
        cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    fi

    local commands="init show lookup plan check publish fetch"
    local cmd="" w
    for w in "${words[@]:1:cword-1}"; do
        case $w in
        init | show | lookup | plan | check | publish | fetch) cmd=$w; break ;;
        esac
    done

    case $prev in
    -o | --out | --etcd-ca | --etcd-cert | --etcd-key | --etcd-password-file)
        _juno_ring_files
        return
        ;;
    -s | --shards)
        COMPREPLY=($(compgen -W "256 512 1024 2048 4096 8192 16384 65536" -- "$cur"))
        return
        ;;
    -c | --cluster | -z | --zone | -a | --add | -r | --remove | -e | --etcd | --etcd-user)
        return
        ;;
    esac

    local opts="--help --version"
    local etcdopts="--etcd-ca --etcd-cert --etcd-key --etcd-user --etcd-password-file"
    case $cmd in
    init) opts+=" --cluster --shards --zone --out" ;;
    show) opts+=" --json" ;;
    lookup) opts+=" --json --hex" ;;
    plan) opts+=" --add --remove --out --json" ;;
    check) ;;
    publish) opts+=" --etcd $etcdopts" ;;
    fetch) opts+=" --etcd $etcdopts --cluster --out" ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    elif [[ $cmd != init && $cmd != fetch ]]; then
        _juno_ring_files
    fi
}
complete -F _juno_ring juno-ring
