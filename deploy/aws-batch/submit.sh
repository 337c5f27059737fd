#!/usr/bin/env bash
# recon on AWS Batch: one run as an array job of SHARDS shards (each child
# takes its index from AWS_BATCH_JOB_ARRAY_INDEX: --shard auto/N) and a merge
# job that depends on the whole array (it starts once every child
# succeeded). Register deploy/aws-batch/job-definition.json once; run this
# nightly (EventBridge Scheduler, cron). The run id is the submission time,
# the instant `fresh` and `age()` measure from.
#
# The keys come from Secrets Manager (the job definition's `secrets`): the
# token key as RECON_TOKEN_KEY (recon reads the key itself from it), the
# signing key's file text as RECON_SIGNING_KEY_TEXT, written to
# RECON_SIGNING_KEY_FILE (/tmp/recon.key) before recon starts. Cloud access
# comes from the job role.
set -euo pipefail
QUEUE="${QUEUE:-recon}"
SHARDS="${SHARDS:-4}"
SPEC="${SPEC:-s3://example-config/recon/callcenter-crm.toml}"
OUT="${OUT:-s3://example-evidence/reports}"
RUN_ID="${RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)}"

# The signing key's file from its secret, then the spec from the bucket.
keys='umask 077 && printf "%s\n" "$RECON_SIGNING_KEY_TEXT" > "$RECON_SIGNING_KEY_FILE"'
shard_cmd="$keys && aws s3 cp $SPEC /tmp/spec.toml && exec recon run /tmp/spec.toml --out $OUT --run-id $RUN_ID --shard auto/$SHARDS --work-dir /tmp"
merge_cmd="$keys && exec recon merge --out $OUT --run-id $RUN_ID --work-dir /tmp"

# The container's command as Batch wants it (jq quotes it as JSON).
overrides() { jq -cn --arg c "$1" '{command: ["/bin/sh", "-c", $c]}'; }

shards_id=$(aws batch submit-job \
  --job-name "recon-$RUN_ID-shards" \
  --job-queue "$QUEUE" \
  --job-definition recon \
  --array-properties "size=$SHARDS" \
  --container-overrides "$(overrides "$shard_cmd")" \
  --query jobId --output text)

aws batch submit-job \
  --job-name "recon-$RUN_ID-merge" \
  --job-queue "$QUEUE" \
  --job-definition recon \
  --depends-on "jobId=$shards_id" \
  --container-overrides "$(overrides "$merge_cmd")" \
  --query jobId --output text
echo "run $RUN_ID: $SHARDS shards ($shards_id) and their merge submitted"
