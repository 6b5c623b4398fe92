# bash completion for juno-backup(1). Install as
# /usr/share/bash-completion/completions/juno-backup.
# test/juno-backup.bats checks that every command and long option of
# `juno-backup --help` appears here.

_juno_backup()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else # without the bash-completion package
        cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    fi

    local commands="create verify restore"
    local opts="--etcd --cluster --map-file --force --window --timeout --json --tls-ca --tls-cert
        --tls-key --etcd-ca --etcd-cert --etcd-key --etcd-user --etcd-password-file
        --help --version"
    case $prev in
    -f | --map-file | --tls-ca | --tls-cert | --tls-key | --etcd-ca | --etcd-cert | --etcd-key | --etcd-password-file)
        if declare -F _filedir >/dev/null; then _filedir; else COMPREPLY=($(compgen -f -- "$cur")); fi
        return
        ;;
    -e | --etcd)
        COMPREPLY=($(compgen -W "http://127.0.0.1:2379" -- "$cur"))
        return
        ;;
    -c | --cluster | -w | --window | -t | --timeout)
        return
        ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    local i have=
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in create | verify | restore) have=${words[i]} ;; esac
    done
    if [ -z "$have" ]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    elif declare -F _filedir >/dev/null; then
        _filedir -d
    else
        COMPREPLY=($(compgen -d -- "$cur"))
    fi
}
complete -F _juno_backup juno-backup
