# Sourced by deploy/local/run and deploy/local/bench-services: the five services and their
# ports, started each with its own credentials (stack service-env) and stopped gracefully.
# The sourcing script sets STACK (the stack script) and RUN_DIR (pids, and logs/).
SERVICES=(intake dispatch escalation notification billing)
PORTS=(8080 8081 8082 8083 8084)

# SIGTERM the five started from RUN_DIR and wait (up to 20 s each) until they have gone.
stop_services() {
  local pids=() s p
  for s in "${SERVICES[@]}"; do
    if [ -f "$RUN_DIR/$s.pid" ] && kill -0 "$(cat "$RUN_DIR/$s.pid")" 2>/dev/null; then
      kill -TERM "$(cat "$RUN_DIR/$s.pid")"; pids+=("$(cat "$RUN_DIR/$s.pid")")
    fi
    rm -f "$RUN_DIR/$s.pid"
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
  done
  [ ${#pids[@]} -eq 0 ] || echo "stopped ${#pids[@]} services"
}

# start_service BIN INSTANCE INDEX [NAME=value …]: starts service INDEX of SERVICES from BIN (with its
# own credentials, whatever PROPDESK_*_URL the caller has set), as
# instance <service>-INSTANCE with the given settings, in the background (its pid in RUN_DIR).
start_service() {
  local bin=$1 instance=$2 i=$3 s; shift 3
  s=${SERVICES[$i]}
  mkdir -p "$RUN_DIR/logs"
  (unset PROPDESK_DATABASE_URL_FILE PROPDESK_AMQP_URL_FILE PROPDESK_DATABASE_URL PROPDESK_AMQP_URL; eval "$("$STACK" service-env "$s")"
   exec env "$@" PROPDESK_HTTP_PORT="${PORTS[$i]}" PROPDESK_INSTANCE="$s-$instance" \
     nohup "$bin/$s" serve >>"$RUN_DIR/logs/$s.log" 2>&1) &
  echo $! > "$RUN_DIR/$s.pid"
}

# wait_ready INDEX: until service INDEX answers /health/ready (fails, with the log's last lines,
# if it is not ready within 30 s or its process has gone).
wait_ready() {
  local i=$1 s ok=0
  s=${SERVICES[$i]}
  for _ in $(seq 1 150); do
    if curl -sf "http://127.0.0.1:${PORTS[$i]}/health/ready" >/dev/null; then ok=1; break; fi
    kill -0 "$(cat "$RUN_DIR/$s.pid")" 2>/dev/null || break
    sleep 0.2
  done
  if [ $ok != 1 ]; then echo "$s did not become ready; last log lines:"; tail -20 "$RUN_DIR/logs/$s.log"; return 1; fi
}

# start_services BIN INSTANCE [NAME=value …]: stops what runs, starts the five from BIN, each as
# instance <service>-INSTANCE with the given settings, and waits until each is ready.
start_services() {
  local bin=$1 instance=$2 i; shift 2
  stop_services
  mkdir -p "$RUN_DIR/logs"
  for i in "${!SERVICES[@]}"; do : > "$RUN_DIR/logs/${SERVICES[$i]}.log"; start_service "$bin" "$instance" "$i" "$@"; done
  for i in "${!SERVICES[@]}"; do wait_ready "$i" || return 1; done
}
