# Sourced by tests/perf/compare.sh and tests/perf/tls.sh: stopping what a
# benchmark started (a tandemd by TD_PID, a private RabbitMQ by RMQ_STATE)
# and removing its work directory (kept with KEEP=1), at exit.
# Needs: top (the source tree), work, KEEP, and a log function.
TD_PID=""
RMQ_STATE=""
stop_tandemd() {
	[ -n "$TD_PID" ] || return 0
	kill -TERM "$TD_PID" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$TD_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$TD_PID" 2>/dev/null || true
	wait "$TD_PID" 2>/dev/null || true
	TD_PID=""
}
stop_rabbit() {
	[ -n "$RMQ_STATE" ] || return 0
	"$top/tests/rabbitmq/stop-private.sh" "$RMQ_STATE" $([ "$KEEP" = 1 ] && echo --keep) >/dev/null 2>&1 || true
	RMQ_STATE=""
}
teardown() {
	stop_tandemd
	stop_rabbit
	if [ "$KEEP" = 1 ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
}
trap teardown EXIT
trap 'exit 130' INT TERM
