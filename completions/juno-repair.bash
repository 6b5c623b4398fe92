# bash completion for juno-repair(1). Install as
# /usr/share/bash-completion/completions/juno-repair.
# test/juno-repair.bats checks that every long option of
# `juno-repair --help` appears here.

_juno_repair()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else # without the bash-completion package
        cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    fi

    local opts="--etcd --cluster --map-file --state --peer-map --dry-run --full --shard --rate --every --restart
        --timeout --json --verbose --tls-ca --tls-cert --tls-key
        --etcd-ca --etcd-cert --etcd-key --etcd-user --etcd-password-file --help --version"
    case $prev in
    -f | --map-file | --state | --peer-map | --tls-ca | --tls-cert | --tls-key | --etcd-ca | --etcd-cert | --etcd-key | --etcd-password-file)
        if declare -F _filedir >/dev/null; then _filedir; else COMPREPLY=($(compgen -f -- "$cur")); fi
        return
        ;;
    -e | --etcd)
        COMPREPLY=($(compgen -W "http://127.0.0.1:2379" -- "$cur"))
        return
        ;;
    -E | --every)
        COMPREPLY=($(compgen -W "30s 10m 1h 6h 1d" -- "$cur"))
        return
        ;;
    -c | --cluster | -s | --shard | -r | --rate | -t | --timeout)
        return
        ;;
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _juno_repair juno-repair
