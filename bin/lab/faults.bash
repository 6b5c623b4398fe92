# bin/lab/faults.bash: the faults of juno-lab (fault, heal) and its trials
# (trial, chaos): sourced by bin/juno-lab, whose functions and variables it
# uses (on, rule, start, stop, event, $dir, the lab's shape).
# shellcheck shell=bash

# ---- faults -----------------------------------------------------------------

rule() { # HOST CHAIN RULE...
    local h=$1 c=$2
    shift 2
    on "$h" nft add rule inet junolab "$c" "$@"
}

cut_all() { # HOST: every packet on eth0 dropped, both ways
    rule "$1" in iifname eth0 drop
    rule "$1" out oifname eth0 drop
}

zone_hosts() { # ZONE: its store hosts in the lab
    local s
    for s in $STORES; do [ "${s%s*}" = "$1" ] && echo "$s"; done
    return 0
}

fault() {
    local name=$1 target=${2:-} h a set
    case " $FAULTS " in *" $name "*) ;; *) die 64 "no fault '$name' (faults: $FAULTS)" ;; esac
    load_env || die 69 "no lab in $dir (juno-lab up)"
    case $name in
    zone-cut)
        target=${target:-z1}
        local z
        for z in ${target//,/ }; do
            [ -n "$(zone_hosts "$z")" ] || die 64 "no zone '$z' (z0, z1, z2)"
        done
        set="{ $(addr proxy1), $(addr proxy2) }"
        for z in ${target//,/ }; do
            for h in $(zone_hosts "$z"); do
                rule "$h" in ip saddr "$set" drop
                rule "$h" out ip daddr "$set" drop
            done
        done
        ;;
    store-proxy-cut)
        target=${target:-z0s1}
        case " $STORES " in *" $target "*) ;; *) die 64 "no store host '$target'" ;; esac
        rule "$target" out ip daddr "$(addr proxy1)" drop
        ;;
    etcd-minority) cut_all etcd3 ;;
    etcd-majority) cut_all etcd1; cut_all etcd2 ;;
    proxy-etcd-migrate) fault_migrate "${target:-proxy2}"; target=${target:-proxy2} ;;
    loss)
        target=${target:-z1s1}
        octet "$target" >/dev/null
        rule "$target" in iifname eth0 numgen random mod 100 "<" "$percent" drop
        rule "$target" out oifname eth0 numgen random mod 100 "<" "$percent" drop
        ;;
    sigstop)
        target=${target:-z2s1}
        local pid
        pid=$(pid_ok "$target") || die 69 "no daemon runs on $target"
        kill -STOP "$pid"
        ;;
    reboot) fault_reboot "${target:-z0s2}"; target=${target:-z0s2} ;;
    disk-full)
        target=$DISK_HOST
        local free
        # fallocate takes what is free at once; a short dd takes the rest
        free=$(df -B1 --output=avail "$dir/data/$DISK_HOST" | tail -1 | tr -d ' ')
        fallocate -l "$free" "$dir/data/$DISK_HOST/ballast" 2>/dev/null || true
        dd if=/dev/zero of="$dir/data/$DISK_HOST/ballast2" bs=64k 2>/dev/null || true
        # and writes that need the space: 2000 values of 20 KB through the
        # cluster (namespace labfill), about 20 MB for the store
        python3 -c 'import sys
for i in range(2000): sys.stdout.write("put\tfill%d\t%s\n" % (i, "x" * 20000))' >"$dir/fill.txt"
        on client "$(bin juno)" -s "$(entry)" -n labfill --retries 0 batch <"$dir/fill.txt" 2>&1 |
            sort | uniq -c >>"$dir/log/fill.log" || true
        ;;
    esac
    echo "$name${target:+ $target}" >>"$dir/faults"
    event fault name "$name" target "$target"
    echo "fault $name${target:+ on $target}"
    if [ -n "$for_sec" ]; then
        sleep "$for_sec"
        heal
    fi
}

# proxy-etcd-migrate: PROXY cut off from etcd; a store started on the spare
# host z0s3 and added to zone z0 by juno-migrate, in the background (its
# output in DIR/log/migrate.log, its exit status in DIR/migrate.rc).
fault_migrate() {
    local p=$1 set e ring
    case " $PROXIES " in *" $p "*) ;; *) die 64 "no proxy host '$p'" ;; esac
    set="{ $(for e in $ETCDS; do printf '%s, ' "$(addr "$e")"; done | sed 's/, $//') }"
    rule "$p" in ip saddr "$set" drop
    rule "$p" out ip daddr "$set" drop
    start z0s3
    wait_ready z0s3
    ring=$(bin juno-ring)
    on client "$ring" fetch --etcd "$(etcd_urls)" --cluster "$CLUSTER" --out "$dir/map-before.json"
    "$ring" plan "$dir/map-before.json" --add "z0=s3@$(addr z0s3):$STORE_PORT" --json >"$dir/plan.json"
    rm -f "$dir/migrate.rc"
    # shellcheck disable=SC2016
    CMD=(sh -c '"$@"; echo $? >"$0"' "$dir/migrate.rc" "$(bin juno-migrate)" "$dir/plan.json"
        --etcd "$(etcd_urls)" --cluster "$CLUSTER" --yes --json --wait 20)
    start migrate client
    event migrate-start proxy "$p"
}

# heal of proxy-etcd-migrate: wait for juno-migrate; note whether it dropped
# the old copies while the cut-off proxy still routed with the old map; run
# it again if it stopped before the end.
heal_migrate() {
    local p=$1 i rc pv nv
    for i in $(seq 1200); do pid_ok migrate >/dev/null || break; sleep 0.1; done
    stop migrate KILL
    rc=$(cat "$dir/migrate.rc" 2>/dev/null || echo killed)
    nv=$(sed -n 's/.*"event":"published".*"version":\([0-9]*\).*/\1/p' "$dir/log/migrate.log" | tail -1)
    pv=$(metric "$p" juno_proxy_map_version)
    event migrate-exit rc "$rc" proxy "$p" proxy_map_version "${pv:-?}" published "${nv:-none}"
    if [ "$rc" = 0 ] && [ -n "$nv" ] && [ "${pv:-0}" -lt "$nv" ] && grep -q '"event":"done"' "$dir/log/migrate.log"; then
        event violation what "juno-migrate finished (old copies dropped) while $p still routed with map version ${pv:-?} (new: $nv)"
    fi
    if [ "$rc" != 0 ]; then
        # an operator runs it again once the network is whole
        for i in $(seq 50); do
            [ "$(metric "$p" juno_proxy_map_version)" != "" ] && break
            sleep 0.1
        done
        if on client "$(bin juno-migrate)" --etcd "$(etcd_urls)" --cluster "$CLUSTER" --yes --json \
            >>"$dir/log/migrate.log" 2>&1; then
            event migrate-resumed rc 0
        else
            event migrate-resumed rc $?
        fi
    fi
}

# reboot HOST: link down, SIGKILL to every lab process on it, link up, the
# daemon started again from the same command line and data.
fault_reboot() {
    local h=$1 f n pid
    octet "$h" >/dev/null
    ip -n "$(nsname "$h")" link set eth0 down
    for f in "$dir"/pid/*.netns; do
        [ -e "$f" ] || continue
        n=$(basename "$f" .netns)
        [ "$(cat "$f")" = "$(netns_inode "$h")" ] || continue
        if pid=$(pid_ok "$n"); then kill -KILL "$pid"; fi
    done
    sleep 1
    ip -n "$(nsname "$h")" link set eth0 up
    case " $DAEMONS z0s3 " in
    *" $h "*)
        if [ -f "$dir/pid/$h.pid" ]; then
            start "$h"
            wait_ready "$h"
        fi
        ;;
    esac
}

heal() {
    load_env || die 69 "no lab in $dir (juno-lab up)"
    local h name pid f
    for h in $HOSTS; do # one nft call a host: quick on a loaded machine
        name=${h%%:*}
        printf 'flush chain inet junolab in\nflush chain inet junolab out\n' | on "$name" nft -f -
        ip -n "$(nsname "$name")" link set eth0 up
    done
    for f in "$dir"/pid/*.pid; do
        [ -e "$f" ] || continue
        if pid=$(pid_ok "$(basename "$f" .pid)"); then kill -CONT "$pid" 2>/dev/null || true; fi
    done
    rm -f "$dir/data/$DISK_HOST/ballast" "$dir/data/$DISK_HOST/ballast2"
    event heal
    if grep -q '^proxy-etcd-migrate' "$dir/faults" 2>/dev/null; then
        heal_migrate "$(sed -n 's/^proxy-etcd-migrate //p' "$dir/faults" | head -1)"
    fi
    : >"$dir/faults"
    echo "healed"
}

# ---- trials -----------------------------------------------------------------

# trial FAULT [TARGET]: the workload through HAProxy, the fault, heal, quiet,
# final reads, the check. Figures in DIR/trials/FAULT/result.json.
trial() {
    local name=$1 target=${2:-} out wpid rc died n
    case " $FAULTS none " in *" $name "*) ;; *) die 64 "no fault '$name' (faults: $FAULTS)" ;; esac
    load_env || die 69 "no lab in $dir (juno-lab up)"
    [ -n "$hold" ] || { if [ "$name" = sigstop ]; then hold=10; else hold=15; fi; }
    out=$dir/trials/$name
    rm -rf "$out"
    mkdir -p "$out"
    : >"$dir/events.jsonl"
    event trial name "$name"
    CMD=(env PYTHONUNBUFFERED=1 python3 "$top/test/lab_workload.py" "$(entry)" --history "$out/history.jsonl"
        --stop "$out/stop" --threads "$threads" --rate "$rate" --max-seconds $((warmup + hold + quiet + 600)))
    start workload client
    wpid=$(cat "$dir/pid/workload.pid")
    sleep "$warmup"
    if [ "$name" != none ]; then
        for_sec=
        fault "$name" $target >>"$out/trial.log" 2>&1 || { rc=$?; echo "$prog: fault $name failed ($rc); see $out/trial.log" >&2; }
        sleep "$hold"
        heal >>"$out/trial.log" 2>&1 || echo "$prog: heal failed; see $out/trial.log" >&2
    fi
    sleep "$quiet"
    event stop
    touch "$out/stop"
    rc=0
    wait "$wpid" || rc=$?
    rm -f "$dir/pid/workload.pid" "$dir/pid/workload.netns"
    cp "$dir/log/workload.log" "$out/workload.log" 2>/dev/null || true
    : >"$dir/log/workload.log"
    [ "$rc" -eq 0 ] || echo "$prog: the workload exited with status $rc; see $out/workload.log" >&2
    died=
    for n in $DAEMONS z0s3; do
        [ -f "$dir/pid/$n.pid" ] || continue
        pid_ok "$n" >/dev/null || died+="${died:+,}$n"
    done
    cp "$dir/events.jsonl" "$out/events.jsonl"
    rc=0
    python3 "$top/test/lab_check.py" "$out/history.jsonl" --events "$out/events.jsonl" --fault "$name${target:+ $target}" \
        --died "$died" ${known[@]+"${known[@]}"} --json "$out/result.json" \
        $(for n in $PROXIES; do printf -- '--proxy-log %s ' "$dir/log/$n.log"; done) || rc=$?
    return "$rc"
}

chaos() {
    local list=("$@") f rc=0 results=() name target
    [ ${#list[@]} -gt 0 ] || read -r -a list <<<"none $FAULTS zone-cut:z1,z2"
    for f in "${list[@]}"; do
        case " $FAULTS none " in *" ${f%%:*} "*) ;; *) die 64 "no fault '${f%%:*}' (faults: $FAULTS)" ;; esac
    done
    local base=$dir
    mkdir -p "$base"
    for f in "${list[@]}"; do
        name=${f%%:*} target=
        [ "$f" = "$name" ] || target=${f#*:}
        echo "== $name${target:+ $target}" >&2
        dir=$base/$name${target:+-${target//,/-}}
        ( up >&2 ) || { rc=1; echo "$prog: up failed for $f" >&2; continue; }
        ( trial "$name" $target ) >&2 || rc=1
        ( down >&2 ) || true
        results+=("$dir/trials/$name/result.json")
    done
    dir=$base
    python3 "$top/test/lab_check.py" --table "${results[@]}" | tee "${out_file:-/dev/null}"
    return "$rc"
}

