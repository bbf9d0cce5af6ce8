# Sourced by deploy/local/run and deploy/local/bench-services: the five services and their
# ports, started each with its own credentials (stack service-env) and stopped gracefully.
# The sourcing script sets STACK (the stack script) and RUN_DIR (pids, and logs/), and may set
# REPLICAS (default 1): replica R of a service listens on its port + 10×R (intake 8080, 8090, …),
# runs as instance <service>-<instance>-R (replica 0: <service>-<instance>), and keeps its pid and log as <service>-R (replica 0:
# <service>).
SERVICES=(intake dispatch escalation notification billing)
PORTS=(8080 8081 8082 8083 8084)
REPLICAS=${REPLICAS:-1}

# replica_port INDEX R / replica_id INDEX R: replica R of service INDEX's port, and its pid/log name.
replica_port() { echo $(( ${PORTS[$1]} + 10 * $2 )); }
replica_id() { if [ "$2" = 0 ]; then echo "${SERVICES[$1]}"; else echo "${SERVICES[$1]}-$2"; fi; }

# The pid files of every replica started from RUN_DIR.
service_pid_files() {
  local s f
  for s in "${SERVICES[@]}"; do
    for f in "$RUN_DIR/$s.pid" "$RUN_DIR/$s"-[0-9]*.pid; do [ -f "$f" ] && echo "$f"; done
  done
  return 0
}

# SIGTERM every replica started from RUN_DIR and wait (up to 20 s each) until they have gone.
stop_services() {
  local pids=() f p
  for f in $(service_pid_files); do
    if kill -0 "$(cat "$f")" 2>/dev/null; then kill -TERM "$(cat "$f")"; pids+=("$(cat "$f")"); fi
    rm -f "$f"
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
  done
  [ ${#pids[@]} -eq 0 ] || echo "stopped ${#pids[@]} services"
}

# start_service BIN INSTANCE INDEX R [NAME=value …]: starts replica R of service INDEX from BIN (with
# its own credentials, whatever PROPDESK_*_URL the caller has set) with the given settings, in the
# background (its pid in RUN_DIR).
start_service() {
  local bin=$1 instance=$2 i=$3 r=$4 s id name; shift 4
  s=${SERVICES[$i]}; id=$(replica_id "$i" "$r"); name=$s-$instance
  [ "$r" = 0 ] || name+="-$r"
  mkdir -p "$RUN_DIR/logs"
  (unset PROPDESK_DATABASE_URL_FILE PROPDESK_AMQP_URL_FILE PROPDESK_DATABASE_URL PROPDESK_AMQP_URL; eval "$("$STACK" service-env "$s")"
   exec env "$@" PROPDESK_HTTP_PORT="$(replica_port "$i" "$r")" PROPDESK_INSTANCE="$name" \
     nohup "$bin/$s" serve >>"$RUN_DIR/logs/$id.log" 2>&1) &
  echo $! > "$RUN_DIR/$id.pid"
}

# wait_ready INDEX R: until replica R of service INDEX answers /health/ready (fails, with the log's
# last lines, if it is not ready within 30 s or its process has gone).
wait_ready() {
  local i=$1 r=$2 id ok=0
  id=$(replica_id "$i" "$r")
  for _ in $(seq 1 150); do
    if curl -sf "http://127.0.0.1:$(replica_port "$i" "$r")/health/ready" >/dev/null; then ok=1; break; fi
    kill -0 "$(cat "$RUN_DIR/$id.pid")" 2>/dev/null || break
    sleep 0.2
  done
  if [ $ok != 1 ]; then echo "$id did not become ready; last log lines:"; tail -20 "$RUN_DIR/logs/$id.log"; return 1; fi
}

# start_services BIN INSTANCE [NAME=value …]: stops what runs, starts REPLICAS of each of the five
# from BIN with the given settings, and waits until each is ready.
start_services() {
  local bin=$1 instance=$2 i r; shift 2
  stop_services
  mkdir -p "$RUN_DIR/logs"
  for ((r = 0; r < REPLICAS; r++)); do
    for i in "${!SERVICES[@]}"; do : > "$RUN_DIR/logs/$(replica_id "$i" "$r").log"; start_service "$bin" "$instance" "$i" "$r" "$@"; done
  done
  for ((r = 0; r < REPLICAS; r++)); do
    for i in "${!SERVICES[@]}"; do wait_ready "$i" "$r" || return 1; done
  done
}
