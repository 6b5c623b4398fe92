# bash completion for juno(1). Install as
# /usr/share/bash-completion/completions/juno.
# test/juno-cli.bats checks that every command and long option of
# `juno --help` appears here.

_juno_files()
{
    if declare -F _filedir >/dev/null; then
        _filedir
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}

_juno()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else # without the bash-completion package
        cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    fi

    # proxy mode (the default) and store mode (--store HOST:PORT)
    local proxy_commands="get put create update del ping batch"
    local store_commands="read get set prepare-create prepare-update prepare-set
        prepare-delete commit abort delete mark-delete repair clone drop-shard shard-info migrate-start migrate-status migrate-stop migrate-verify shard-accept checkpoint rejoined compact nop batch"
    local common_opts="--namespace --json --timeout --window --ttl --tls --tls-ca --tls-cert
        --tls-key --help --version"
    local proxy_opts="--server --retries --if-version --newline --user --password"
    local store_opts="--store --shards --map --rid --record-version --creation --expire
        --last-modified --origin --tombstone --one-phase --shard --value-type"

    local store=0 cmd="" i w
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        case $w in
        --store | --store=*) store=1 ;;
        esac
    done
    local commands=$proxy_commands
    [[ $store == 1 ]] && commands=$store_commands
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        case ${words[i - 1]} in
        -s | --server | --store | -n | --namespace | -t | --timeout | -w | --window | \
            -r | --retries | --ttl | --if-version | -S | --shards | -m | --map | --rid | \
            --record-version | --creation | --expire | --last-modified | --origin | --shard | \
            --value-type | --tls-ca | --tls-cert | --tls-key | --user | --password)
            continue
            ;;
        esac
        [[ $w == -* ]] && continue
        cmd=$w
        break
    done

    case $prev in
    -m | --map | --tls-ca | --tls-cert | --tls-key)
        _juno_files
        return
        ;;
    -s | --server | --store)
        COMPREPLY=($(compgen -W "127.0.0.1:8080 127.0.0.1:9001" -- "$cur"))
        return
        ;;
    -n | --namespace | -t | --timeout | -w | --window | -r | --retries | --ttl | --if-version | \
        -S | --shards | --rid | --record-version | --creation | --expire | --last-modified | \
        --origin | --shard | --value-type)
        return
        ;;
    esac

    if [[ $cur == -* ]]; then
        local opts="$common_opts"
        if [[ $store == 1 ]]; then
            opts+=" $store_opts"
        elif [[ -z $cmd ]]; then
            opts+=" $proxy_opts --store"
        else
            case $cmd in
            get) opts+=" --server --retries --newline" ;;
            update) opts+=" --server --retries --if-version" ;;
            *) opts+=" --server --retries" ;;
            esac
        fi
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    fi
}
complete -F _juno juno
