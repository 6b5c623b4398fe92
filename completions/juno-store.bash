# bash completion for juno-store
_juno_store() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
    -m|--map|--log-file|--tls-cert|--tls-key|--tls-ca|--etcd-ca|--etcd-cert|--etcd-key|--etcd-password-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    -d|--data) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    -s|--sync) COMPREPLY=($(compgen -W "none batch always" -- "$cur")); return ;;
    --log-level) COMPREPLY=($(compgen -W "debug info warn error" -- "$cur")); return ;;
    -l|--listen|-e|--etcd|-c|--cluster|--etcd-user|-z|--zone|-N|--node|-t|--threads|--lock-ms|--max-frame|--max-namespace|--max-key|--max-value|--max-ttl|--tombstone-grace|--rejoin-after|--idle-timeout|--busy-copy-rate|--record-cache|--block-cache|--rocksdb-options|--min-free-space|--metrics|--tls-handshake-timeout|--tls-max-handshakes) return ;;
    esac
    COMPREPLY=($(compgen -W "--listen --map --etcd --cluster --etcd-ca --etcd-cert --etcd-key --etcd-user --etcd-password-file --zone --node --data --memory --sync --threads --lock-ms --max-frame --max-namespace --max-key --max-value --max-ttl --tombstone-grace --rejoin-after --idle-timeout --busy-copy-rate --record-cache --block-cache --rocksdb-options --min-free-space --log-level --log-file --metrics --tls-cert --tls-key --tls-ca --tls-handshake-timeout --tls-max-handshakes --insecure --check-config --help --version" -- "$cur"))
}
complete -F _juno_store juno-store
