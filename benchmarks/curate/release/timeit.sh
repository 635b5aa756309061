#!/usr/bin/env bash
# Usage: timeit.sh <label> <cmd...>; stdout -> runs/<label>.out, time -v -> runs/<label>.time,
# one TSV row appended to runs/timings.tsv: label user sys cpu wall maxrss_kb load1 load5 exit
set -u
L=$1; shift
D=$(dirname "$0")/../runs
LOAD=$(cut -d' ' -f1,2 /proc/loadavg)
/usr/bin/time -v -o "$D/$L.time" "$@" > "$D/$L.out" 2> "$D/$L.err"
RC=$?
U=$(awk -F': ' '/User time/{print $2}' "$D/$L.time"); S=$(awk -F': ' '/System time/{print $2}' "$D/$L.time")
W=$(awk -F': ' '/Elapsed/{print $2}' "$D/$L.time" | awk -F: '{s=0; for(i=1;i<=NF;i++) s=s*60+$i; print s}')
M=$(awk -F': ' '/Maximum resident/{print $2}' "$D/$L.time")
LOADE=$(cut -d' ' -f1 /proc/loadavg)
printf "%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\n" "$L" "$U" "$S" "$(echo "$U + $S" | bc)" "$W" "$M" "$LOAD" "$LOADE" "$RC" | tee -a "$D/timings.tsv"
