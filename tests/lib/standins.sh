# Shared by the runners on the AWS stand-ins (sourced after tests/lib/runner.sh): moto at
# HEARTH_TEST_AWS_ENDPOINT and an OpenSearch node at HEARTH_TEST_OPENSEARCH_URL, with the
# processes a runner starts in PIDS, stopped by `standins_cleanup`.

: "${HEARTH_TEST_AWS_ENDPOINT:?set HEARTH_TEST_AWS_ENDPOINT}"
: "${HEARTH_TEST_OPENSEARCH_URL:?set HEARTH_TEST_OPENSEARCH_URL}"

PIDS=()

# `standins_env LABEL INDEXING`: sets NAME, LABEL and random hex, the deployment's prefix, so
# runs on one moto and one node never share a table, bucket, queue or index; exports what every
# hearth process of the run reads: the AWS backend on moto with that prefix, INDEXING
# (`inline` or `stream`) and JSON logs. The OpenSearch URL is the runner's to choose.
standins_env() {
  NAME="$1$(random_hex 4)"
  export HEARTH_BACKEND=aws HEARTH_PROVISION=true HEARTH_INDEXING=$2
  # moto serves one request at a time (tests/moto/serve.py): a long poll would stall it.
  export HEARTH_SQS_WAIT_SECONDS=0
  export HEARTH_AWS_ENDPOINT_URL=$HEARTH_TEST_AWS_ENDPOINT HEARTH_AWS_PREFIX=$NAME
  export HEARTH_OPENSEARCH_PREFIX="hearth-$NAME-" HEARTH_LOG_FORMAT=json
}

# The EXIT trap: stops every process in PIDS (TERM, then waits), shows the logs of WORK_DIR on
# failure and removes it, keeping the runner's exit status.
standins_cleanup() {
  local rc=$? pid
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  [[ $rc -ne 0 ]] && show_logs "$WORK_DIR"
  rm -rf "$WORK_DIR"
  exit "$rc"
}
