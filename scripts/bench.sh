#!/usr/bin/env bash
# Benchmark: trailsentry scan against zcat | jq on the same realistic corpus.
#
# Builds the binary, generates a CloudTrail corpus (1,000,000 events in 2,000
# gzip files by default), then measures, each under /usr/bin/time (wall,
# user, sys, peak RSS), the best of RUNS runs:
#   a) trailsentry scan on one core (GOMAXPROCS=1, pinned with taskset),
#      every detection on: rules, correlations, profiles;
#   a') the same, stateless (--no-correlations --no-profiles);
#   b) trailsentry scan on two cores (GOMAXPROCS=2),
#   c) find | xargs zcat | jq with ~20 predicates comparable to the rules,
#      pinned to one core.
# and prints events/second per core of CPU time and per second of wall time.
#
# Environment:
#   EVENTS=1000000 FILES=2000 SEED=1   corpus size and seed
#   SPAN=30d                           time the corpus covers (past the 7-day learning period)
#   BENCH_CORPUS=DIR   reuse the corpus in DIR if it exists, else generate it
#                      there (and keep it) for the next run
#   RULES=PATH         Sigma rules to add (default: ../shared/sigma-rules)
#   RUNS=3             runs of each trailsentry measurement, interleaved; the
#                      one with the least CPU time is reported (jq runs once)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rules="${RULES:-$repo/../shared/sigma-rules}"
seed="${SEED:-1}"
files="${FILES:-2000}"
span="${SPAN:-30d}"
runs="${RUNS:-3}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/trailsentry-bench.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 2; }

# Tools.
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is needed: apt-get install time"
if ! command -v jq >/dev/null 2>&1; then
	say "installing jq…"
	sudo=""
	[[ $(id -u) -eq 0 ]] || sudo="sudo"
	$sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq jq >&2
fi
pin1=() pin2=()
if command -v taskset >/dev/null 2>&1; then
	pin1=(taskset -c 0)
	[[ $(nproc) -ge 2 ]] && pin2=(taskset -c 0,1)
fi
[[ -d $rules ]] || die "no Sigma rules at $rules (set RULES)"

# Build.
say "building trailsentry…"
(cd "$repo" && CGO_ENABLED=0 go build -o "$tmp/trailsentry" ./cmd/trailsentry)
bin="$tmp/trailsentry"

# Corpus: reuse BENCH_CORPUS when it holds one; remember its size beside it.
corpus="${BENCH_CORPUS:-$tmp/corpus}"
if [[ -d $corpus/AWSLogs ]]; then
	if [[ -z ${EVENTS:-} && -f $corpus/bench-corpus.env ]]; then
		# shellcheck disable=SC1091
		EVENTS="$(. "$corpus/bench-corpus.env" && echo "$EVENTS")"
	fi
	[[ -n ${EVENTS:-} ]] || die "reusing $corpus: set EVENTS to its event count"
	events="$EVENTS"
	say "reusing the corpus in $corpus ($events events)"
else
	events="${EVENTS:-1000000}"
	say "generating $events events in $files files into $corpus…"
	mkdir -p "$corpus"
	gen_start=$(date +%s.%N)
	"$bin" corpus --out "$corpus" --events "$events" --files "$files" --seed "$seed" --span "$span" 2>"$tmp/corpus.err" ||
		{ cat "$tmp/corpus.err" >&2; die "corpus generation failed"; }
	gen_end=$(date +%s.%N)
	printf 'EVENTS=%s\nFILES=%s\nSEED=%s\nSPAN=%s\n' "$events" "$files" "$seed" "$span" >"$corpus/bench-corpus.env"
	planted="$(grep -o 'planted=[0-9]*' "$tmp/corpus.err" | tail -n1 | cut -d= -f2 || true)"
	say "generated in $(awk -v a="$gen_start" -v b="$gen_end" 'BEGIN { printf "%.1f", b - a }') s, ${planted:-?} planted attack events"
fi
logs="$corpus/AWSLogs"
size="$(du -sh "$logs" | cut -f1)"
nfiles="$(find "$logs" -name '*.json.gz' | wc -l)"

# The jq side: about 20 predicates, the questions the rules ask.
read -r -d '' filter <<'JQ' || true
.Records[] | select(
     (.eventSource == "cloudtrail.amazonaws.com" and (.eventName == "StopLogging" or .eventName == "DeleteTrail" or .eventName == "UpdateTrail"))
  or (.eventName == "ConsoleLogin" and .additionalEventData.MFAUsed == "No")
  or (.eventName == "ConsoleLogin" and .errorMessage == "Failed authentication")
  or (.userIdentity.type == "Root" and .eventType != "AwsServiceEvent")
  or ((.errorCode // "") | test("AccessDenied|UnauthorizedOperation"))
  or (.eventSource == "iam.amazonaws.com" and (.eventName == "CreateUser" or .eventName == "CreateAccessKey" or .eventName == "CreateLoginProfile" or .eventName == "UpdateLoginProfile"))
  or (.eventSource == "iam.amazonaws.com" and (.eventName | test("^(Attach|Put)(User|Role|Group)Policy$")))
  or (.eventSource == "ec2.amazonaws.com" and (.eventName | test("^(Authorize|Revoke)SecurityGroup(Ingress|Egress)$")))
  or (.eventSource == "s3.amazonaws.com" and .eventName == "PutBucketPolicy")
  or (.eventSource == "guardduty.amazonaws.com" and (.eventName == "DeleteDetector" or (.eventName == "UpdateDetector" and .requestParameters.enable == false)))
  or (.eventName == "GetPasswordData")
  or ((.userAgent // "") | test("kali|parrot|pentoo|pacu|trufflehog"; "i"))
  or (.eventSource == "s3.amazonaws.com" and .eventName == "ListBuckets" and .userIdentity.type != "AssumedRole")
  or (.eventSource == "ec2.amazonaws.com" and .eventName == "DeleteFlowLogs")
  or (.eventSource == "config.amazonaws.com" and (.eventName == "StopConfigurationRecorder" or .eventName == "DeleteDeliveryChannel"))
  or (.eventSource == "ec2.amazonaws.com" and .eventName == "ModifySnapshotAttribute")
  or (.eventSource == "s3.amazonaws.com" and .eventName == "PutBucketVersioning" and (.requestParameters | tostring | contains("Suspended")))
  or (.eventSource == "sts.amazonaws.com" and .eventName == "GetSessionToken" and .userIdentity.type == "IAMUser")
  or (.eventSource == "ec2.amazonaws.com" and (.eventName == "CreateNetworkAclEntry" or .eventName == "CreateRoute" or .eventName == "ImportKeyPair" or .eventName == "DisableEbsEncryptionByDefault"))
  or (.eventSource == "kms.amazonaws.com" and (.eventName == "ScheduleKeyDeletion" or .eventName == "DisableKey" or .eventName == "ImportKeyMaterial"))
  or (.eventSource == "rds.amazonaws.com" and (.eventName == "ModifyDBCluster" or .eventName == "DeleteDBCluster"))
)
JQ

# measure NAME CMD...: runs CMD under /usr/bin/time, accepting exit codes 0
# and 1 (1 is "findings" for trailsentry), and leaves "wall user sys rssKB"
# in $tmp/NAME.time.
measure() {
	local name=$1
	shift
	say "running $name…"
	local rc=0
	/usr/bin/time -f '%e %U %S %M' -o "$tmp/$name.time" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
	if [[ $rc -gt 1 ]]; then
		tail -n 20 "$tmp/$name.err" >&2
		die "$name exited with status $rc"
	fi
	# GNU time adds "Command exited with non-zero status 1" before the figures.
	tail -n 1 "$tmp/$name.time" >"$tmp/$name.fig"
}

# keep_best NAME: of the runs NAME.1 … NAME.$runs, keeps the one that took
# the least CPU time as NAME: on a shared machine, the least disturbed.
keep_best() {
	local name=$1 best="" best_cpu="" r cpu
	for r in $(seq "$runs"); do
		cpu=$(awk '{ print $2 + $3 }' "$tmp/$name.$r.fig")
		if [[ -z $best ]] || awk -v a="$cpu" -v b="$best_cpu" 'BEGIN { exit !(a < b) }'; then
			best=$r best_cpu=$cpu
		fi
	done
	for ext in fig out err; do cp "$tmp/$name.$best.$ext" "$tmp/$name.$ext"; done
}

scan=("$bin" scan --rules "$rules" --format jsonl --fail-on none "$logs")
for r in $(seq "$runs"); do # interleaved, so that a slow spell of the host falls on both
	measure "scan1.$r" env GOMAXPROCS=1 "${pin1[@]}" "${scan[@]}"
	measure "stateless1.$r" env GOMAXPROCS=1 "${pin1[@]}" "${scan[@]}" --no-correlations --no-profiles
	measure "scan2.$r" env GOMAXPROCS=2 "${pin2[@]}" "${scan[@]}"
done
keep_best scan1
keep_best stateless1
keep_best scan2
# shellcheck disable=SC2016 # $1 and $2 are bash -c's own arguments
measure jq "${pin1[@]}" bash -c 'set -o pipefail; find "$1" -name "*.json.gz" -print0 | xargs -0 zcat | jq -c "$2"' \
	bench "$logs" "$filter"

# Report.
row() { # row LABEL NAME
	read -r wall user sys rss <"$tmp/$2.fig"
	awk -v label="$1" -v n="$events" -v wall="$wall" -v user="$user" -v sys="$sys" -v rss="$rss" 'BEGIN {
		cpu = user + sys
		printf "%-28s %8.2f %8.2f %14.0f %14.0f %10.1f\n", label, wall, cpu, (cpu > 0 ? n / cpu : 0), (wall > 0 ? n / wall : 0), rss / 1024
	}'
}
cpu_of() { read -r _ user sys _ <"$tmp/$1.fig" && awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }'; }
wall_of() { read -r wall _ <"$tmp/$1.fig" && echo "$wall"; }

echo
echo "corpus: $events events in $nfiles files ($size gzip) at $corpus"
echo "host:   $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || echo unknown CPU)"
echo "tools:  $(go version | cut -d' ' -f3), $(jq --version)${pin1[*]:+, pinned with taskset}"
echo
printf '%-28s %8s %8s %14s %14s %10s\n' "tool" "wall s" "CPU s" "events/s/core" "events/s wall" "peak MB"
row "trailsentry scan, 1 core" scan1
row "  stateless, 1 core" stateless1
row "trailsentry scan, 2 cores" scan2
row "zcat | jq, 1 core" jq
echo
awk -v s1="$(cpu_of stateless1)" -v c1="$(cpu_of scan1)" 'BEGIN {
	printf "every stateful detection on / stateless, throughput per core: %.0f%%\n", (c1 > 0 ? 100 * s1 / c1 : 0)
}'
awk -v n="$events" -v c1="$(cpu_of scan1)" -v cj="$(cpu_of jq)" -v w1="$(wall_of scan1)" -v w2="$(wall_of scan2)" 'BEGIN {
	printf "trailsentry (1 core) / jq, per core of CPU time: %.1fx\n", (c1 > 0 ? cj / c1 : 0)
	printf "2-core speed-up (wall, 1 core / 2 cores):         %.2fx\n", (w2 > 0 ? w1 / w2 : 0)
}'
echo "findings: $(wc -l <"$tmp/scan1.out") (1 core), $(wc -l <"$tmp/scan2.out") (2 cores); jq matched $(wc -l <"$tmp/jq.out") records"
if [[ -s $tmp/scan1.err ]]; then
	echo "scan summary (1 core):"
	sed 's/^/  /' "$tmp/scan1.err" | tail -n 5
fi
