#!/usr/bin/env bats
# juno-ring end to end: every command's output, the placement figures through
# the CLI, determinism, every bad input with its exit code and message, help,
# version, and completions/man page kept in step with --help.

bats_require_minimum_version 1.5.0

setup() {
    cd "$BATS_TEST_TMPDIR" || exit 1
    ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
}

# A map with zone z0 of n nodes s1..sN (127.0.0.1:9001..) and zone z1 of 2 nodes.
mkmap() { # n shards
    local n=$1 shards=${2:-1024} nodes="" i
    for ((i = 1; i <= n; i++)); do nodes+="${nodes:+,}s$i@127.0.0.1:$((9000 + i))"; done
    juno-ring init --cluster test --shards "$shards" --zone "z0=$nodes" \
        --zone z1=t1@127.0.0.2:9001,t2@127.0.0.2:9002
}

# python3 one-liner over a JSON file: py FILE 'expression using j'
py() {
    python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"
}

@test "--help lists commands, options and exit codes on stdout" {
    run --separate-stderr juno-ring --help
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [[ $output == *"Usage: juno-ring COMMAND"* ]]
    for c in init show lookup plan check; do [[ $output == *"  $c "* ]]; done
    for o in cluster shards zone add remove out json hex help version; do
        [[ $output == *"--$o"* ]]
    done
    [[ $output == *"Exit status:"* ]]
    [[ $output == *"64  usage error"* ]]
    [[ $output == *"65  bad input data"* ]]
    run juno-ring -h
    [ "$status" -eq 0 ]
    [[ $output == *"Usage: juno-ring"* ]]
}

@test "--version prints the program and version" {
    run juno-ring --version
    [ "$status" -eq 0 ]
    [[ $output =~ ^juno-ring\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
    [ "$(juno-ring -V)" = "$output" ]
}

@test "completions and man page name every command and long option of --help" {
    local help opts o c
    help=$(juno-ring --help)
    opts=$(grep -oE -- '--[a-z][a-z-]+' <<<"$help" | sort -u)
    [ "$(wc -l <<<"$opts")" -ge 10 ]
    for o in $opts; do
        grep -qF -- "$o" "$ROOT/completions/juno-ring.bash" || { echo "bash lacks $o"; false; }
        grep -qF -- "$o" "$ROOT/completions/_juno-ring" || { echo "zsh lacks $o"; false; }
        grep -qF -- "${o//-/\\-}" "$ROOT/docs/man/juno-ring.1" || { echo "man lacks $o"; false; }
    done
    for c in $(sed -n '/^Commands:/,/^$/p' <<<"$help" | awk '/^  [a-z]/ {print $1}'); do
        grep -qw -- "$c" "$ROOT/completions/juno-ring.bash" || { echo "bash lacks $c"; false; }
        grep -q -- "'$c:" "$ROOT/completions/_juno-ring" || { echo "zsh lacks $c"; false; }
    done
    bash -n "$ROOT/completions/juno-ring.bash"
    ! command -v zsh >/dev/null || zsh -n "$ROOT/completions/_juno-ring"
}

@test "bash completion offers commands and per-command options" {
    source "$ROOT/completions/juno-ring.bash"
    COMP_WORDS=(juno-ring pl) COMP_CWORD=1
    _juno_ring
    [ "${COMPREPLY[*]}" = "plan" ]
    COMP_WORDS=(juno-ring plan --) COMP_CWORD=2
    _juno_ring
    [[ " ${COMPREPLY[*]} " == *" --add "* && " ${COMPREPLY[*]} " == *" --remove "* ]]
    [[ " ${COMPREPLY[*]} " != *" --zone "* ]]
}

@test "man page renders" {
    command -v man >/dev/null || skip "no man"
    run man -l "$ROOT/docs/man/juno-ring.1"
    [ "$status" -eq 0 ]
    [[ $output == *"EXIT STATUS"* ]]
    if command -v groff >/dev/null; then
        run groff -wall -man -Tutf8 -z "$ROOT/docs/man/juno-ring.1"
        [ "$status" -eq 0 ]
        [ -z "$output" ]
    fi
}

@test "init builds a version 1 map; names default to addresses" {
    run --separate-stderr juno-ring init --cluster demo \
        --zone z0=127.0.0.1:9001,127.0.0.1:9002,s3@127.0.0.1:9003
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    printf '%s\n' "$output" >map.json
    [ "$(py map.json 'j["cluster"], j["version"], j["shards"], len(j["zones"])')" = "demo 1 1024 1" ]
    [ "$(py map.json '[n["name"] for n in j["zones"][0]["nodes"]]')" = \
        "['127.0.0.1:9001', '127.0.0.1:9002', 's3']" ]
    [ "$(py map.json 'j["zones"][0]["nodes"][2]["addr"]')" = "127.0.0.1:9003" ]
    [ "$(py map.json 'len(j["zones"][0]["owners"])')" = 1024 ]
    [ "$(py map.json 'sorted(set(j["zones"][0]["owners"]))')" = "[0, 1, 2]" ]
    # owners on one line, stable key order
    [ "$(grep -c '"owners": \[0\|"owners": \[1\|"owners": \[2' map.json)" -eq 1 ]
    [ "$(sed -n 2,4p map.json)" = $'  "cluster": "demo",\n  "version": 1,\n  "shards": 1024,' ]
}

@test "init --out writes the map file and nothing to stdout" {
    run juno-ring init --cluster c -s 64 -z z0=127.0.0.1:1 -o out.json
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ "$(py out.json 'j["shards"]')" = 64 ]
    juno-ring init --cluster c -s 64 -z z0=127.0.0.1:1 | cmp - out.json
}

@test "init is deterministic: zones and nodes in any order give identical bytes" {
    juno-ring init --cluster d --shards 4096 --zone z0=a@h:1,b@h:2,c@h:3,d@h:4 \
        --zone z1=e@h:5,f@h:6 >one.json
    juno-ring init --cluster d --shards 4096 --zone z1=f@h:6,e@h:5 \
        --zone z0=d@h:4,b@h:2,a@h:1,c@h:3 >two.json
    cmp one.json two.json
    # and a map read back and reserialized by a plan keeps every other zone byte for byte
    juno-ring plan one.json --add z1=g@h:7 --out three.json >/dev/null
    [ "$(py three.json 'j["zones"][0]')" = "$(py one.json 'j["zones"][0]')" ]
}

@test "show prints shards, share and balance per zone" {
    mkmap 3 >map.json
    run --separate-stderr juno-ring show map.json
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "cluster test: version 1, 1024 shards, 2 zones" ]
    [ "${lines[1]}" = "zone z0: 3 nodes, balance 1 (min 341, max 342)" ]
    [[ ${lines[2]} =~ ^\ \ NODE\ +ADDR\ +SHARDS\ +SHARE$ ]]
    [[ ${lines[3]} =~ ^\ \ s1\ +127\.0\.0\.1:9001\ +34[12]\ +33\.[0-9]{2}%$ ]]
    [ "${lines[6]}" = "zone z1: 2 nodes, balance 0 (min 512, max 512)" ]
    [[ ${lines[8]} =~ ^\ \ t1\ +127\.0\.0\.2:9001\ +512\ +50\.00%$ ]]
    # from stdin, both ways
    [ "$(juno-ring show <map.json)" = "$output" ]
    [ "$(juno-ring show - <map.json)" = "$output" ]
}

@test "show --json gives loads that add up" {
    mkmap 5 4096 >map.json
    juno-ring show --json map.json >show.json
    [ "$(py show.json 'sum(n["shards"] for n in j["zones"][0]["nodes"])')" = 4096 ]
    [ "$(py show.json 'j["zones"][0]["balance"], j["zones"][0]["min"], j["zones"][0]["max"]')" = "1 819 820" ]
    [ "$(py show.json 'j["zones"][1]["nodes"][0]["share"]')" = 50.0 ]
}

@test "lookup finds the shard (XXH64 mod S) and the owner in every zone" {
    mkmap 4 >map.json
    run --separate-stderr juno-ring lookup map.json abc
    [ "$status" -eq 0 ]
    # XXH64("abc") = 0x44bc2cf5ad770999; mod 1024 = 409
    [ "${lines[0]}" = 'key "abc": shard 409 of 1024' ]
    owner0=$(py map.json 'j["zones"][0]["nodes"][j["zones"][0]["owners"][409]]["name"]')
    addr0=$(py map.json 'j["zones"][0]["nodes"][j["zones"][0]["owners"][409]]["addr"]')
    owner1=$(py map.json 'j["zones"][1]["nodes"][j["zones"][1]["owners"][409]]["name"]')
    [ "${lines[1]}" = "zone z0: $owner0 $addr0" ]
    [[ ${lines[2]} == "zone z1: $owner1 "* ]]
    # hex key, map on stdin, JSON
    [ "$(juno-ring lookup --hex 616263 <map.json)" = "$output" ]
    juno-ring lookup --json map.json abc >l.json
    [ "$(py l.json 'j["key"], j["shard"], j["owners"][0]["name"], j["owners"][0]["zone"]')" = "abc 409 $owner0 z0" ]
    run juno-ring lookup -x map.json 00ff
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == "key 0x00ff: shard "*" of 1024" ]]
    # a key that looks like an option, after --
    run juno-ring lookup map.json -- -k
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == 'key "-k": shard '* ]]
}

@test "check accepts a good map" {
    mkmap 3 >map.json
    run juno-ring check map.json
    [ "$status" -eq 0 ]
    [ "$output" = "ok: cluster test version 1: 2 zones, 1024 shards" ]
    run juno-ring check <map.json
    [ "$output" = "ok: cluster test version 1: 2 zones, 1024 shards" ]
}

@test "check prints every error, one per line, and exits 65" {
    mkmap 4 >map.json
    # s2 takes t1's address; owners[17] of z0 points nowhere; version 0
    python3 - <<'EOF'
import json
j = json.load(open("map.json"))
j["version"] = 0
j["zones"][0]["owners"][17] = 9
j["zones"][0]["nodes"][1]["addr"] = "127.0.0.2:9001"
json.dump(j, open("bad.json", "w"))
EOF
    run --separate-stderr juno-ring check bad.json
    [ "$status" -eq 65 ]
    [ -z "$output" ]
    [[ $stderr == *'juno-ring: error: unable to check map bad.json: "version": 0 is out of range'* ]]
    [[ $stderr == *'unable to check map bad.json: zone "z0": owners[17] = 9: no such node (zone has 4 nodes)'* ]]
    [[ $stderr == *'unable to check map bad.json: zone "z1": node 0 ("t1"): duplicate address 127.0.0.2:9001 (also node "s2" in zone "z0")'* ]]
    [ "$(grep -c '^juno-ring: error: unable to check map bad.json: ' <<<"$stderr")" -eq 3 ]
    [ "$(wc -l <<<"$stderr")" -eq 3 ]
    # the same through stdin, and a command other than check names every error too
    run --separate-stderr juno-ring show <bad.json
    [ "$status" -eq 65 ]
    [ "$(grep -c '^juno-ring: error: unable to read map stdin: ' <<<"$stderr")" -eq 3 ]
}

@test "plan --add: moves, totals, agreement; --out writes version 2" {
    mkmap 4 >map.json
    run --separate-stderr juno-ring plan map.json --add z0=s5@127.0.0.1:9005 --out new.json
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "cluster test: version 1 -> 2" ]
    [ "${lines[1]}" = "change: add s5 (127.0.0.1:9005) to zone z0" ]
    # floor(1024 / 5) = 204 moves, all to s5, all in z0
    [ "$(grep -c '^move ' <<<"$output")" -eq 204 ]
    [ "$(grep -c '^move z0 [0-9]*: s[1-4] -> s5$' <<<"$output")" -eq 204 ]
    [[ $output == *"zone z0: 4 -> 5 nodes, moved 204 of 1024 shards (19.92%), ideal 204 (19.92%), agreement "*"%, balance 0 -> 1"* ]]
    [[ $output =~ total:\ moved\ 204\ shards\ \(19\.92%\),\ ideal\ 204\ \(19\.92%\),\ agreement\ ([0-9.]+)%\ with\ a\ from-scratch\ map ]]
    echo "# agreement 4->5 nodes, S=1024: ${BASH_REMATCH[1]}%" >&3
    python3 -c "import sys; sys.exit(0 if float('${BASH_REMATCH[1]}') > 50 else 1)"
    [ "$(py new.json 'j["version"], len(j["zones"][0]["nodes"])')" = "2 5" ]
    run juno-ring check new.json
    [ "$output" = "ok: cluster test version 2: 2 zones, 1024 shards" ]
    # moves are sorted by shard
    grep '^move ' <<<"$(juno-ring plan map.json --add z0=s5@127.0.0.1:9005)" | awk '{print $3+0}' >shards.txt
    sort -n -c shards.txt
}

@test "plan --json: moves and the new map" {
    mkmap 4 >map.json
    juno-ring plan --json map.json --add z0=s5@127.0.0.1:9005 --remove z1=t1 >plan.json
    [ "$(py plan.json 'len(j["moves"])')" -eq $((204 + 512)) ]
    [ "$(py plan.json 'j["moves"][0]["zone"], sorted(set(m["to"] for m in j["moves"] if m["zone"] == "z0"))')" = "z0 ['s5']" ]
    [ "$(py plan.json 'set((m["from"], m["to"]) for m in j["moves"] if m["zone"] == "z1")')" = "{('t1', 't2')}" ]
    [ "$(py plan.json 'j["map"]["version"], [len(z["nodes"]) for z in j["map"]["zones"]]')" = "2 [5, 1]" ]
    [ "$(py plan.json 'j["summary"]["moved"], j["summary"]["ideal"], j["summary"]["agreement"] > 0.5')" = "716 716 True" ]
    # each move names the shard's owner before and after
    python3 - <<'EOF'
import json
p = json.load(open("plan.json")); old = json.load(open("map.json"))
zi = {z["name"]: i for i, z in enumerate(old["zones"])}
for m in p["moves"]:
    oz = old["zones"][zi[m["zone"]]]; nz = p["map"]["zones"][zi[m["zone"]]]
    assert oz["nodes"][oz["owners"][m["shard"]]]["name"] == m["from"], m
    assert nz["nodes"][nz["owners"][m["shard"]]]["name"] == m["to"], m
EOF
}

@test "plan figures end to end: add moves floor(S/(n+1)), remove moves the node's shards" {
    for shards in 1024 4096; do
        for n in 3 7; do
            mkmap $n $shards >map.json
            juno-ring plan --json map.json --add z0=new@127.0.0.1:8000 --out add.json >plan.json
            [ "$(py plan.json 'len(j["moves"])')" -eq $((shards / (n + 1))) ]
            [ "$(py plan.json 'set(m["to"] for m in j["moves"]), set(m["zone"] for m in j["moves"])')" = "{'new'} {'z0'}" ]
            [ "$(juno-ring show --json add.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["zones"][0]["balance"])')" -le 1 ]
            [ "$(py add.json 'j["zones"][1]')" = "$(py map.json 'j["zones"][1]')" ]
            agree=$(py plan.json 'j["summary"]["agreement"]')
            echo "# agreement S=$shards n=$n->$((n + 1)): $agree" >&3
            # remove s2: exactly its shards move
            load=$(py map.json 'j["zones"][0]["owners"].count(1)')
            juno-ring plan --json map.json --remove z0=s2 >rm.json
            [ "$(py rm.json 'len(j["moves"])')" -eq "$load" ]
            [ "$(py rm.json 'set(m["from"] for m in j["moves"])')" = "{'s2'}" ]
            [ "$(py rm.json 'j["summary"]["zones"][0]["balance_after"] <= 1')" = True ]
        done
    done
}

@test "plan applies several changes in order" {
    mkmap 2 >map.json
    run juno-ring plan map.json --add z0=s3@127.0.0.1:9003 --remove z0=s1 --add z0=s4@127.0.0.1:9004
    [ "$status" -eq 0 ]
    [ "${lines[1]}" = "change: add s3 (127.0.0.1:9003) to zone z0" ]
    [ "${lines[2]}" = "change: remove s1 from zone z0" ]
    [ "${lines[3]}" = "change: add s4 (127.0.0.1:9004) to zone z0" ]
    [[ $output == *"zone z0: 2 -> 3 nodes"*"balance 0 -> 1"* ]]
    # a node added then removed again: nothing to move in the end
    run juno-ring plan map.json --add z0=x@127.0.0.1:7000 --remove z0=x
    [ "$status" -eq 0 ]
    [ "$(grep -c '^move ' <<<"$output" || true)" -eq 0 ]
}

# expect STATUS MESSAGE -- COMMAND...: exit status, and stderr containing MESSAGE
expect() {
    local want=$1 msg=$2
    shift 3
    run --separate-stderr "$@"
    if [ "$status" -ne "$want" ] || [[ $stderr != *"$msg"* ]]; then
        echo "command: $*"
        echo "status $status (want $want); stderr: $stderr"
        return 1
    fi
    [[ $stderr == "juno-ring: error: "* ]]
}

@test "bad usage exits 64 with a message" {
    mkmap 2 >map.json
    expect 64 "missing command" -- juno-ring
    expect 64 'unable to run command "nope": no such command' -- juno-ring nope
    expect 64 "unknown option --bogus" -- juno-ring show --bogus map.json
    expect 64 "unknown option -q" -- juno-ring -q show
    expect 64 "--out needs an argument" -- juno-ring init --cluster c --zone z0=h:1 --out
    expect 64 "option --json does not apply to it" -- juno-ring init --json --cluster c --zone z0=h:1
    expect 64 "option --add does not apply to it" -- juno-ring show --add z0=h:1 map.json
    expect 64 "--cluster is required" -- juno-ring init --zone z0=h:1
    expect 64 "at least one --zone is required" -- juno-ring init --cluster c
    expect 64 "unable to use --shards 0: expected a number of shards, 1..65536" -- juno-ring init --cluster c --shards 0 --zone z0=h:1
    expect 64 "unable to use --shards 65537" -- juno-ring init --cluster c --shards 65537 --zone z0=h:1
    expect 64 "unable to use --shards x" -- juno-ring init --cluster c --shards x --zone z0=h:1
    expect 64 "unable to use --zone z0: expected ZONE=NODE" -- juno-ring init --cluster c --zone z0
    expect 64 "the zone has no nodes" -- juno-ring init --cluster c --zone z0=
    expect 64 "empty node in the list" -- juno-ring init --cluster c --zone z0=h:1,,h:2
    expect 64 '"nohost" is not a HOST:PORT address' -- juno-ring init --cluster c --zone z0=nohost
    expect 64 '"h:99999" is not a HOST:PORT address' -- juno-ring init --cluster c --zone z0=h:99999
    expect 64 "unable to use --cluster a b: not a valid name" -- juno-ring init --cluster "a b" --zone z0=h:1
    expect 64 "at most 5 zones" -- juno-ring init --cluster c -z a=h:1 -z b=h:2 -z c=h:3 -z d=h:4 -z e=h:5 -z f=h:6
    expect 64 "at least one --add or --remove" -- juno-ring plan map.json
    expect 64 "unable to use --add z0: expected ZONE=[NAME@]ADDR" -- juno-ring plan map.json --add z0
    expect 64 "unable to use --remove =s1: expected ZONE=NAME" -- juno-ring plan map.json --remove =s1
    expect 64 "expected [MAP] KEY" -- juno-ring lookup
    expect 64 "expected [MAP] KEY" -- juno-ring lookup a b c
    expect 64 "unable to use key 0g: not hex" -- juno-ring lookup --hex map.json 0g
    expect 64 "odd number of hex digits" -- juno-ring lookup --hex map.json 616
    expect 64 'unexpected argument "extra"' -- juno-ring show map.json extra
    # bad usage prints a hint to --help
    run juno-ring nope
    [[ $output == *"Try 'juno-ring --help' for more information."* ]]
}

@test "bad data exits 65 naming what is wrong" {
    mkmap 2 >map.json
    expect 65 'zone "z0": node "h:1": duplicate name' -- juno-ring init --cluster c --zone z0=h:1,h:1
    expect 65 'duplicate address h:1 (also node "a" in zone "z0")' -- juno-ring init --cluster c --zone z0=a@h:1 --zone z1=b@h:1
    expect 65 'zone "z0": duplicate zone name' -- juno-ring init --cluster c --zone z0=h:1 --zone z0=h:2
    expect 65 'unable to plan change: zone "z9": no such zone in the map' -- juno-ring plan map.json --add z9=x@h:1
    expect 65 'zone "z0": node "s9": no such node in the zone' -- juno-ring plan map.json --remove z0=s9
    expect 65 'zone "z0": node "s1": duplicate name' -- juno-ring plan map.json --add z0=s1@127.0.0.1:7777
    expect 65 'duplicate address 127.0.0.2:9001 (also node "t1" in zone "z1")' -- juno-ring plan map.json --add z0=s3@127.0.0.2:9001
    expect 65 'zone "z1": node "t2": cannot remove the last node of a zone' -- juno-ring plan map.json --remove z1=t1 --remove z1=t2
    printf '{"cluster": "c", "version": 1,' >broken.json
    expect 65 "unable to read map broken.json: malformed JSON at line 1, column" -- juno-ring show broken.json
    expect 65 "unable to read map stdin: empty input" -- juno-ring plan --add z0=x@h:1 - </dev/null
    sed 's/"shards": 1024/"shards": 65537/' map.json >big.json
    expect 65 '"shards": 65537 is out of range (1..65536)' -- juno-ring lookup big.json k
    sed 's/"version": 1/"version": 1.5/' map.json >v.json
    expect 65 '"version": expected an integer, got 1.5' -- juno-ring check v.json
    echo '[]' >arr.json
    expect 65 "top level: expected an object, got array" -- juno-ring check arr.json
}

@test "unreadable and unwritable files exit 74" {
    mkmap 2 >map.json
    expect 74 "unable to read map missing.json: no such file or directory" -- juno-ring show missing.json
    expect 74 "unable to write map nodir/new.json" -- juno-ring plan map.json --remove z0=s1 --out nodir/new.json
}
