# bash completion for juno-migrate(1). Install as
# /usr/share/bash-completion/completions/juno-migrate.
# test/juno-migrate.bats checks that every long option of
# `juno-migrate --help` appears here.

_juno_migrate()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else # without the bash-completion package
        cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    fi

    local opts="--etcd --cluster --map-file --reload --state --rate --parallel --wait
        --drain-ms --forget-proxy --json --abort --yes --tls-ca --tls-cert --tls-key --help --version"
    case $prev in
    -f | --map-file | --state | --tls-ca | --tls-cert | --tls-key)
        if declare -F _filedir >/dev/null; then _filedir; else COMPREPLY=($(compgen -f -- "$cur")); fi
        return
        ;;
    -R | --reload)
        COMPREPLY=($(compgen -W "$(pgrep -d ' ' 'juno-(store|proxy)' 2>/dev/null)" -- "$cur"))
        return
        ;;
    -e | --etcd)
        COMPREPLY=($(compgen -W "http://127.0.0.1:2379" -- "$cur"))
        return
        ;;
    -c | --cluster | -r | --rate | -p | --parallel | -w | --wait | --drain-ms | --forget-proxy)
        return
        ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    if declare -F _filedir >/dev/null; then
        _filedir json
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -F _juno_migrate juno-migrate
