#!/bin/sh
# The layers of liblingma are physical: what each static library may not
# reference, checked on its undefined symbols (nm -u).
#   proto (sans-I/O): no thread, lws, socket, clock, process, file or
#                     randomness call;
#   os (processes):   no thread and no lws.
# Usage: check-layers.sh PROTO_ARCHIVE OS_ARCHIVE
set -eu
proto="$1"
os="$2"

threads='pthread_.*|thrd_.*|mtx_.*|cnd_.*'
lws='lws_.*|_lws_.*'
sockets='socket|socketpair|connect|bind|listen|accept4?|send|sendto|sendmsg|recv|recvfrom|recvmsg'
sockets="$sockets|[gs]etsockopt|getsockname|getpeername|shutdown|getaddrinfo|poll|ppoll|select|epoll_.*"
clocks='clock_gettime|clock|time|gettimeofday|nanosleep|usleep|sleep'
procs='fork|vfork|posix_spawnp?|exec[lv]p?e?|execve|waitpid|waitid|wait|kill|killpg|pidfd_open|getpid'
files='open(64)?|openat(64)?|creat|read|write|close|unlink|stat(64)?|fstat(64)?|mkdir|fopen(64)?'
random='getrandom|rand|random|arc4random'

# check NAME ARCHIVE REGEX: fail when the archive references a forbidden symbol.
check() {
    bad=$(nm -u "$2" | awk 'NF == 2 {print $2}' | sed 's/@.*//' | sort -u | grep -E "^($3)\$" || true)
    if [ -n "$bad" ]; then
        echo "$1 ($2) references what its layer may not:" >&2
        echo "$bad" | sed 's/^/  /' >&2
        return 1
    fi
    echo "ok: $1 references no forbidden symbol"
}

rc=0
check proto "$proto" "$threads|$lws|$sockets|$clocks|$procs|$files|$random" || rc=1
check os "$os" "$threads|$lws" || rc=1
exit $rc
