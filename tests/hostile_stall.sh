#!/usr/bin/env bash
# A store whose reads never return (issue 14): a local store on a file
# system that stopped answering (a dead NFS server, a wedged disk). The test
# puts the store behind stallfs (tests/tools/stallfs.c), a FUSE view of it
# whose reads of packs/ are never answered, so hugeblob's pread() really
# blocks in the kernel. get, cat and verify must fail after --read-timeout
# with an error naming the pack, leave no temporary file, and exit (a read
# thread stuck in the kernel must not hold up the exit); without a deadline
# the first Ctrl-C must cancel.
#
# Needs FUSE (/dev/fuse and fusermount3); exits 77 (skipped) without it.
source "$(dirname "$0")/lib.sh"
unset HUGEBLOB_STORE HUGEBLOB_READ_TIMEOUT

if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
  echo "SKIP: needs FUSE (/dev/fuse and fusermount3)"
  exit 77
fi
STALLFS=$(dirname "$HB")/hb_stallfs
if [ ! -x "$STALLFS" ]; then
  # Built with the tests; a CLI from elsewhere gets it compiled here.
  STALLFS=$WORK/hb_stallfs
  cc -O1 -o "$STALLFS" "$(dirname "$0")/tools/stallfs.c" $(pkg-config --cflags --libs fuse3) ||
    { echo "FAIL: cannot build stallfs" >&2; exit 1; }
fi

S=$WORK/store      # the real store
M=$WORK/stalled    # the same store through stallfs: reads of packs/ hang
LOG=$WORK/stallfs.log
mkdir -p "$M"
head -c $((3 << 20)) /dev/urandom >"$WORK/data"
"$HB" --store "$S" put "$WORK/data" --name f -q || { echo "put failed"; exit 1; }

"$STALLFS" "$S" "$M" packs/ "$LOG" 2>"$WORK/stallfs.err" &
SFPID=$!
# Whatever happens: unmount (a stuck reader is let go by killing the server).
cleanup_hooks+=("fusermount3 -u '$M' 2>/dev/null || { kill -9 $SFPID 2>/dev/null; fusermount3 -uz '$M' 2>/dev/null; }")
wait_for "stallfs to mount" 30 mountpoint -q "$M" || finish
check "names and manifests read through stallfs" bash -c "'$HB' --store '$M' ls | grep -q ' f\$'"

stalls() { local n; n=$(grep -c "^stalled read" "$LOG" 2>/dev/null); echo "${n:-0}"; }
# run_bounded SECONDS OUT ERR cmd...: runs cmd in the background, sets RC and
# TOOK (seconds); a run past SECONDS is killed (RC 124): a hang.
run_bounded() {
  local secs=$1 out=$2 err=$3; shift 3
  local t0 pid
  t0=$(now_us)
  "$@" >"$out" 2>"$err" &
  pid=$!
  if poll_until "$secs" gone "$pid"; then
    wait "$pid"
    RC=$?
  else
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    RC=124
  fi
  TOOK=$(python3 -c "print(round(($(now_us) - $t0) / 1e6, 1))")
}
took_between() { python3 -c "import sys; sys.exit(not ($1 <= $TOOK <= $2))"; }

# --- get: fails after the deadline, names the pack, no temporary file -------
before=$(stalls)
run_bounded 60 "$WORK/get.out" "$WORK/get.err" "$HB" --store "$M" --read-timeout 2s get f "$WORK/out"
check "a read really blocked in stallfs" test "$(stalls)" -gt "$before"
check "get exits 1 after the deadline (rc $RC)" test "$RC" = 1
check "get took about the deadline (${TOOK}s)" took_between 1.9 20
check "get's error names the pack and the deadline" \
  grep -Eq "packs/[0-9a-f]{2}/[0-9a-f]+ .*no answer after 2 s.*--read-timeout" "$WORK/get.err"
check "no target and no temporary file" bash -c "! compgen -G '$WORK/out*' && ! compgen -G '$WORK/.out.hugeblob.*'"

# --- cat and verify -------------------------------------------------------------
run_bounded 60 "$WORK/cat.out" "$WORK/cat.err" "$HB" --store "$M" --read-timeout 2s cat f
check "cat exits 1 after the deadline (rc $RC, ${TOOK}s)" bash -c "[ $RC = 1 ] && python3 -c 'import sys; sys.exit(not $TOOK < 20)'"
check "cat's error names the pack" grep -Eq "packs/[0-9a-f]{2}/[0-9a-f]+ .*no answer after 2 s" "$WORK/cat.err"
check "cat wrote no data" test ! -s "$WORK/cat.out"
HUGEBLOB_READ_TIMEOUT=2s run_bounded 60 "$WORK/verify.out" "$WORK/verify.err" "$HB" --store "$M" verify
check "verify exits 1, not 3: a store that does not answer is not damage (rc $RC, ${TOOK}s)" \
  bash -c "[ $RC = 1 ] && python3 -c 'import sys; sys.exit(not $TOOK < 30)'"
check "verify's error names the pack (HUGEBLOB_READ_TIMEOUT)" \
  grep -Eq "packs/[0-9a-f]{2}/[0-9a-f]+ .*no answer after 2 s" "$WORK/verify.err"

# --- no deadline: the first Ctrl-C cancels ---------------------------------------
before=$(stalls)
"$HB" --store "$M" --read-timeout 0 get f "$WORK/out2" >"$WORK/int.out" 2>"$WORK/int.err" &
getter=$!
if wait_for "the get's read to block" 30 bash -c "[ \$(grep -c '^stalled read' '$LOG') -gt $before ]"; then
  kill -INT "$getter"
  if poll_until 10 gone "$getter"; then
    wait "$getter"
    rc=$?
    check "one SIGINT ends a get blocked in the kernel (rc $rc = 130)" test "$rc" = 130
    check "it says it was interrupted" grep -q "interrupted" "$WORK/int.err"
    check "no temporary file after Ctrl-C" bash -c "! compgen -G '$WORK/.out2.hugeblob.*'"
  else
    fail "a get blocked in the kernel ignored the first SIGINT"
    kill -9 "$getter" 2>/dev/null
  fi
fi
check "bad --read-timeout is a usage error" bash -c "'$HB' --store '$M' --read-timeout soon ls >/dev/null 2>&1; [ \$? = 2 ]"

# --- the mount: EIO after --read-timeout, the log says why, the daemon stays
# usable and unmounts with reads still stuck behind it. Twice: the mount's
# --read-timeout also bounds the store's reads (the log names the pack); and
# with the store's reads unbounded (global --read-timeout 0) the mount's own
# watchdog answers the request, and unmounting still ends the daemon.
MNT=$WORK/mnt
mkdir -p "$MNT"
mount_round() {  # mount_round LABEL LOG_REGEX [global options...]
  local label=$1 re=$2; shift 2
  "$HB" --store "$M" "$@" mount "$MNT" -f -v --read-timeout 2s --no-disk-cache 2>"$WORK/mount.log" &
  local mpid=$!
  cleanup_hooks+=("fusermount3 -u '$MNT' 2>/dev/null; kill -9 $mpid 2>/dev/null")
  wait_for "the mount ($label)" 60 mountpoint -q "$MNT" || return
  check "$label: the mount lists f" test -e "$MNT/f"
  local round
  for round in 1 2; do
    run_bounded 60 "$WORK/mcat.out" "$WORK/mcat.err" dd if="$MNT/f" of=/dev/null bs=64k count=1 skip=$((round * 7))
    # The kernel retries a failed readahead as a single page: two deadlines.
    check "$label: read $round through the mount fails (rc $RC) in ${TOOK}s" \
      bash -c "[ $RC != 0 ] && [ $RC != 124 ] && python3 -c 'import sys; sys.exit(not $TOOK < 20)'"
    check "$label: with EIO" grep -q "Input/output error" "$WORK/mcat.err"
  done
  check "$label: the mount's log says why" grep -Eq "$re" "$WORK/mount.log"
  check "$label: stat still answers" stat "$MNT/f" >/dev/null
  fusermount3 -u "$MNT"
  check "$label: the mount unmounts and exits with reads stuck behind it" poll_until 30 gone "$mpid"
  wait "$mpid"
  local rc=$?
  # A read the watchdog answered may still run when the program closes the
  # file: the daemon must not touch the released handle (it crashed so once).
  check "$label: the daemon exits 0, not by a signal ($rc)" test "$rc" = 0
}
mount_round "store deadline" "packs/[0-9a-f]{2}/[0-9a-f]+.*no answer after 2 s"
mount_round "mount watchdog" "of 'f': the store has not answered in [0-9.]+ s; failing the read with EIO" --read-timeout 0

# No deadline anywhere (the store's reads and the mount's requests wait
# forever), both worker threads (--threads 2) waiting on reads stuck in the
# kernel: Ctrl-C (SIGINT) still unmounts and ends the daemon. The stop wakes
# a worker with a lookup, which only a worker that gave up its store read can
# answer: the SIGINT cancels the process's token, which the store's waits
# poll.
"$HB" --store "$M" --read-timeout 0 mount "$MNT" -f -v --read-timeout 0 --no-disk-cache --threads 2 \
  2>"$WORK/mount-int.log" &
mpid=$!
cleanup_hooks+=("fusermount3 -u '$MNT' 2>/dev/null; kill -9 $mpid 2>/dev/null")
if wait_for "the mount (no deadline)" 60 mountpoint -q "$MNT"; then
  before=$(stalls)
  readers=()
  for k in 0 1 2 3 4 5 6 7; do
    dd if="$MNT/f" of=/dev/null bs=64k count=1 skip=$((k * 5)) 2>/dev/null &
    readers+=($!)
  done
  wait_for "the mount's reads to block" 30 bash -c "[ \$(grep -c '^stalled read' '$LOG') -gt $before ]"
  kill -INT "$mpid"
  if poll_until 30 gone "$mpid"; then
    wait "$mpid"
    rc=$?
    check "SIGINT ends a mount whose reads are all stuck, with no deadline (rc $rc)" test "$rc" = 0
    check "the mountpoint is unmounted" bash -c "! mountpoint -q '$MNT'"
  else
    fail "a mount with every read stuck ignored SIGINT for 30 s"
  fi
  for p in "${readers[@]}"; do poll_until 30 gone "$p" || kill -9 "$p" 2>/dev/null; done
fi

fusermount3 -u "$M"
wait_for "stallfs to exit" 30 gone "$SFPID"
finish
