#!/usr/bin/env bash
# The GPU run of docs/benchmarks.md, phase by phase, as it ran on the lent GPU machine (one
# H100, 16 cores, Python 3.12 with torch/transformers/httpx/uvloop, no vLLM, no network).
# Each phase is one device call, run from the repo root there; the calls follow each other at
# once, because the machine keeps /tmp only while it stays warm (about 30 s between calls).
#
#   (here)  ../shared/gpu/stage.sh ~/.local/share/tollgate/models/SmolLM2-135M-Instruct
#           -> .gpu-stage/part00..06: vLLM 0.26.0 wheels + a Qwen3-1.7B-shaped config
#   (here)  pip download the gateway's wheels for py3.12 into .whl/ (docs/benchmarks.md, "GPU")
#   stage NN     carry .gpu-stage/partNN: copy it into /tmp/stage (one part per call)
#   up           carry the last part and .whl: unpack, start vLLM (remote.sh, prefix cache off),
#                install the gateway's wheels in /tmp/gsite, create a key, start two gateways:
#                :8080 one worker (the default), :8081 four workers
#   transformers plain transformers `generate` vs vLLM, same shape, same prompts
#   sweep R      round R of the interleaved sweep: direct / gw1 / gw4 at c = 1..256
#                (round 2 sweeps the targets in reverse order)
#   profile      py-spy on the one-worker gateway during a c=256 run
# Every phase leaves its files in /tmp/gpu-results and packs them all into $OUT/results.tgz.
# With RES=$OUT/name the files land straight in $OUT instead (they come back even from a call
# cut short). Never pipe the `up` phase (`... | tail`): the servers it leaves running hold the
# pipe open and the call runs to its time limit (seen: 600 s of device time lost).
set -u
phase=${1:?usage: gpu_run.sh stage NN | up | transformers | sweep R | profile}
OUT=${OUT:-/tmp/gpu-out}
RES=${RES:-/tmp/gpu-results}  # RES=$OUT/... : results come back even from a call cut short
GSITE=/tmp/gsite
MODEL=qwen3-1.7b-shape
export TOLLGATE_DATA_DIR=/tmp/tg PYTHONUNBUFFERED=1
mkdir -p "$RES" "$OUT" "$TOLLGATE_DATA_DIR"

pack() { case $RES in "$OUT"/*) ls -R "$RES" | tail -3 ;; *) tar czf "$OUT/results.tgz" -C "$RES" . && ls -la "$OUT" ;; esac; }
key() { python3 -c 'import json; print(json.load(open("/tmp/tg/key.json"))["key"])'; }

case $phase in
stage)
  mkdir -p /tmp/stage && cp ".gpu-stage/part${2:?part number}"/p.* /tmp/stage/ && ls -la /tmp/stage
  ;;
up)
  cp .gpu-stage/part*/p.* /tmp/stage/
  (cd /tmp/stage && cat p.* > b.tar && tar xf b.tar && rm b.tar p.*) || exit 1
  # Prefix caching off: direct and gateway runs must not hit each other's cached prompts.
  (timeout 420 bash /tmp/stage/remote.sh --no-enable-prefix-caching > "$RES/remote.log" 2>&1; echo "remote.sh rc=$?" >> "$RES/remote.log") &
  up_pid=$!
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$GSITE" .whl/*.whl || exit 1
  # The gateways run from a copy of the tree: later calls re-send the tree under them.
  rm -rf /tmp/app && mkdir -p /tmp/app && cp -r gateway shared services /tmp/app/
  # Compiled once here: the wheels come uncompiled, and four workers each compiling every
  # module at start (with PYTHONDONTWRITEBYTECODE, again at every start) miss uvicorn's
  # start-up health check (seen on a dry run).
  python3 -m compileall -q -j 0 "$GSITE" /tmp/app > /dev/null 2>&1
  export PYTHONPATH=$GSITE:/tmp/app TOLLGATE_GATEWAY__UPSTREAM_TRANSPORT=${TRANSPORT:-aiohttp}
  (cd /tmp/app && python3 -m services.cli keys create --name bench --json > /tmp/tg/key.json) || exit 1
  for spec in 8080:1 8081:4; do
    port=${spec%:*} workers=${spec#*:}
    (cd /tmp/app && setsid nohup python3 -m services.cli gateway --upstream http://127.0.0.1:8000 \
      --port "$port" --workers "$workers" > "/tmp/tg/gw-$port.log" 2>&1 & echo $! > "/tmp/tg/gw-$port.pid")
  done
  wait "$up_pid"; cat "$RES/remote.log"
  sleep 2
  for port in 8080 8081; do
    pgrep -o -f "services.cli gateway --upstream http://127.0.0.1:8000 --port $port" > "/tmp/tg/gw-$port.pid"
  done
  for port in 8000 8080 8081; do
    curl -s -m 60 "localhost:$port/v1/completions" -H "authorization: Bearer $(key)" \
      -H 'content-type: application/json' \
      -d "{\"model\":\"$MODEL\",\"prompt\":\"hello\",\"max_tokens\":8,\"ignore_eos\":true}" \
      | head -c 300; echo " <- :$port"
  done
  {
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    grep -m1 'model name' /proc/cpuinfo; nproc; free -g | head -2
    python3 --version
    PYTHONPATH=/tmp/site python3 -c 'import vllm, torch; print("vllm", vllm.__version__, "torch", torch.__version__)'
    python3 -c 'import transformers; print("transformers", transformers.__version__)'
    PYTHONPATH=$GSITE python3 -c 'import litestar, httpx, uvicorn; print("litestar", litestar.__version__.formatted() if hasattr(litestar.__version__, "formatted") else litestar.__version__, "httpx", httpx.__version__, "uvicorn", uvicorn.__version__)'
    head -5 /tmp/tg/gw-8081.log
  } > "$RES/machine.txt" 2>&1
  cat "$RES/machine.txt"
  pack
  ;;
restart)
  # The gateways again, from the tree as sent now; TRANSPORT=aiohttp|httpx (the upstream pool).
  for port in 8080 8081; do kill "$(cat /tmp/tg/gw-$port.pid)" 2>/dev/null; done; sleep 3
  rm -rf /tmp/app && mkdir -p /tmp/app && cp -r gateway shared services /tmp/app/
  export PYTHONPATH=$GSITE:/tmp/app TOLLGATE_GATEWAY__UPSTREAM_TRANSPORT=${TRANSPORT:-aiohttp}
  for spec in 8080:1 8081:4; do
    port=${spec%:*} workers=${spec#*:}
    (cd /tmp/app && setsid nohup python3 -m services.cli gateway --upstream http://127.0.0.1:8000 \
      --port "$port" --workers "$workers" > "/tmp/tg/gw-$port.log" 2>&1 &)
  done
  sleep 10
  for port in 8080 8081; do
    pgrep -o -f "services.cli gateway --upstream http://127.0.0.1:8000 --port $port" > "/tmp/tg/gw-$port.pid"
    curl -s -m 30 "localhost:$port/v1/completions" -H "authorization: Bearer $(key)" \
      -H 'content-type: application/json' \
      -d "{\"model\":\"$MODEL\",\"prompt\":\"hello\",\"max_tokens\":8,\"ignore_eos\":true}" \
      | head -c 120; echo " <- :$port pid $(cat /tmp/tg/gw-$port.pid)"
  done
  ;;
transformers)
  PYTHONPATH=$GSITE:. python3 -m services.bench.gpu_transformers --model-dir /tmp/stage/model \
    --dummy --served-model "$MODEL" --prompts "${TF_PROMPTS:-8}" --warmup "${TF_WARMUP:-2}" --out "$RES/transformers.json" 2>&1 \
    | grep -v Warning
  pack
  ;;
sweep)
  round=${2:?round number}
  reverse=$([ $((round % 2)) = 0 ] && echo --reverse)  # even rounds sweep in reverse
  TOLLGATE_BENCH_API_KEY=$(key) PYTHONPATH=$GSITE:. python3 -m services.bench.gpu_sweep \
    --target direct=http://127.0.0.1:8000 --target gw1=http://127.0.0.1:8080 \
    --target gw4=http://127.0.0.1:8081 \
    --watch "gw1=$(cat /tmp/tg/gw-8080.pid)" --watch "gw4=$(cat /tmp/tg/gw-8081.pid)" \
    --concurrency "${CONCURRENCY:-1,4,16,64,128,256}" --out-dir "$RES/round$round" \
    --seed "$round" $reverse ${SWEEP_ARGS:-} -- --model "$MODEL" --prompt-tokens 128 --output-tokens 128 \
    --ignore-eos --timeout 120
  for gw in gw1 gw4; do
    PYTHONPATH=$GSITE:. python3 -m services.cli bench compare "$RES/round$round/direct.json" \
      "$RES/round$round/$gw.json"
  done
  grep -c '"status": 200' /tmp/tg/gw-8080.log /tmp/tg/gw-8081.log
  grep -h '"level": "error"' /tmp/tg/gw-*.log | head -5
  pack
  ;;
pinned)
  # c=1 (and c=64) direct vs the one-worker gateway, first as is, then with vLLM, the gateway
  # and the client each on their own cores: is the gateway's cost at c=1 its own latency, or
  # CPU taken from vLLM's launch-bound engine loop?
  mkdir -p "$RES/pin"
  gw=$(cat /tmp/tg/gw-8080.pid) vllm=$(pgrep -o -f vllm.entrypoints.openai.api_server)
  cpu() { python3 -c 'import psutil,sys; p=psutil.Process(int(sys.argv[1])); print(sum(sum(q.cpu_times()[:2]) for q in [p,*p.children(recursive=True)]))' "$1"; }
  pin() { python3 -c 'import os,psutil,sys; cpus={int(c) for c in sys.argv[2].split(",")}; p=psutil.Process(int(sys.argv[1])); [os.sched_setaffinity(t.id, cpus) for q in [p,*p.children(recursive=True)] for t in q.threads()]' "$1" "$2"; }
  a=$(cpu "$gw"); sleep 10; b=$(cpu "$gw")
  python3 -c "print(f'gateway idle CPU: {1000*($b-$a)/10:.1f} ms/s')" | tee "$RES/pin/idle.txt"
  one() {  # label url c n seed mode [taskset...]
    local label=$1 url=$2 c=$3 n=$4 seed=$5 mode=$6; shift 6
    TOLLGATE_BENCH_API_KEY=$(key) PYTHONPATH=$GSITE:. "$@" python3 -m services.cli bench run \
      --url "$url" -c "$c" -n "$n" --model "$MODEL" --prompt-tokens 128 --output-tokens 128 \
      --ignore-eos --seed "$seed" --label "$label" --out "$RES/pin/$mode-c$c-$label-$seed.json" \
      $([ "$mode" = nostream ] && echo --no-stream) > /dev/null 2>&1
  }
  for i in 1 2; do
    one direct http://127.0.0.1:8000 1 40 "1$i" free; one gw1 http://127.0.0.1:8080 1 40 "2$i" free
  done
  pin "$vllm" 0,1,2,3,4,5,6,7; pin "$gw" 12,13,14,15
  C="taskset -c 8,9,10,11"
  for i in 1 2 3; do
    one direct http://127.0.0.1:8000 1 40 "3$i" pinned $C; one gw1 http://127.0.0.1:8080 1 40 "4$i" pinned $C
  done
  for i in 1 2; do
    one direct http://127.0.0.1:8000 1 30 "5$i" nostream $C; one gw1 http://127.0.0.1:8080 1 30 "6$i" nostream $C
    one direct http://127.0.0.1:8000 64 512 "7$i" pinned $C; one gw1 http://127.0.0.1:8080 64 512 "8$i" pinned $C
  done
  python3 - "$RES/pin" <<'PY'
import json, pathlib, sys
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.json"), key=lambda f: f.stat().st_mtime):
    s = json.loads(f.read_text())["steps"][0]
    g = lambda k: (s.get(k) or {}).get("p50", float("nan"))
    print(f"{f.stem:<28} {s['output_throughput']:8.0f} tok/s  ttft {g('ttft_ms'):7.2f}  itl {g('itl_ms'):5.2f}  e2e {g('e2e_ms'):7.1f}  err {s['errors']}")
PY
  pack
  ;;
profile)
  pid=$(cat /tmp/tg/gw-8080.pid)
  (TOLLGATE_BENCH_API_KEY=$(key) PYTHONPATH=$GSITE:. python3 -m services.cli bench run \
    --url http://127.0.0.1:8080 -c 256 -n 2048 --processes 8 --model "$MODEL" \
    --prompt-tokens 128 --output-tokens 128 --ignore-eos --seed 99 --label gw1-profiled \
    --out "$RES/profile-run.json" > "$RES/profile-run.log" 2>&1) &
  sleep 6
  "$GSITE/bin/py-spy" record -p "$pid" -d 15 -r 200 --nonblocking -f raw -o "$RES/gw1-c256.folded" \
    > "$RES/py-spy.log" 2>&1
  "$GSITE/bin/py-spy" dump -p "$pid" > "$RES/gw1-dump.txt" 2>&1
  wait
  tail -5 "$RES/py-spy.log"
  PYTHONPATH=$GSITE:. python3 - "$RES/gw1-c256.folded" <<'PY'
import collections, sys
own, total, n = collections.Counter(), collections.Counter(), 0
for line in open(sys.argv[1]):
    stack, _, count = line.rstrip().rpartition(" ")
    frames, c = stack.split(";"), int(count)
    n += c
    own[frames[-1]] += c
    for f in set(frames):
        total[f] += c
print(f"{n} samples; top self frames:")
for f, c in own.most_common(25):
    print(f"{100 * c / n:5.1f}%  {f}")
PY
  pack
  ;;
*)
  echo "unknown phase $phase"; exit 2
  ;;
esac
