#!/bin/bash
# Submits a study as an N-shard job array plus its merge job, and prints the run folder.
#   deploy/slurm/submit.sh N <study> [study options]      e.g. deploy/slurm/submit.sh 3 fmnist --seeds 3
# Extra sbatch options go in SBATCH_ARGS (e.g. SBATCH_ARGS="--partition=cpu --cpus-per-task=8").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shards=${1:?"usage: submit.sh N <study> [study options]"}
study=${2:?"usage: submit.sh N <study> [study options]"}
shift
out=${OUT:-runs}
# shellcheck disable=SC2086
job=$(sbatch --parsable ${SBATCH_ARGS:-} --array=0-$((shards - 1)) --export=ALL,OUT="$out" "$here/study.sbatch" "$@")
job=${job%%;*}
folder="$out/$study-$job"
# shellcheck disable=SC2086
merge=$(sbatch --parsable ${SBATCH_ARGS:-} --dependency=afterok:"$job" --kill-on-invalid-dep=yes \
    --export=ALL,RUN_FOLDER="$folder" "$here/merge.sbatch")
echo "array job $job ($shards shards), merge job ${merge%%;*}, run folder $folder"
