# bash completion for juno-proxy
_juno_proxy() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
    -m|--map|--map-cache|--log-file|--tls-cert|--tls-key|--tls-ca|--upstream-tls-cert|--upstream-tls-key|--upstream-tls-ca|--replicate-tls-cert|--replicate-tls-key|--replicate-tls-ca|--acl|--etcd-ca|--etcd-cert|--etcd-key|--etcd-password-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --log-level) COMPREPLY=($(compgen -W "debug info warn error" -- "$cur")); return ;;
    --tls-client-cert) COMPREPLY=($(compgen -W "require optional" -- "$cur")); return ;;
    -l|--listen|-e|--etcd|-c|--cluster|--etcd-user|-t|--threads|--default-ttl|--max-ttl|--idle-timeout|--request-timeout|--deadline|--max-frame|--max-namespace|--max-key|--max-value|--metrics|--gather|--resp|--resp-namespace|--resp-databases|--resp-max-ttl|--resp-max-value|--resp-max-query|--resp-max-buffered|--tls-handshake-timeout|--tls-max-handshakes|--replicate-to|--replicate-queue|--replicate-max-age) return ;;
    esac
    COMPREPLY=($(compgen -W "--listen --map --etcd --cluster --etcd-ca --etcd-cert --etcd-key --etcd-user --etcd-password-file --map-cache --threads --default-ttl --max-ttl --idle-timeout --request-timeout --deadline --max-frame --max-namespace --max-key --max-value --log-level --log-file --metrics --gather --resp --resp-namespace --resp-databases --resp-max-ttl --resp-max-value --resp-max-query --resp-max-buffered --tls-cert --tls-key --tls-ca --tls-client-cert --upstream-tls-cert --upstream-tls-key --upstream-tls-ca --tls-handshake-timeout --tls-max-handshakes --acl --hash-password --insecure --replicate-to --replicate-queue --replicate-max-age --replicate-tls-cert --replicate-tls-key --replicate-tls-ca --accept-replication --check-config --help --version" -- "$cur"))
}
complete -F _juno_proxy juno-proxy
