#!/usr/bin/env bash
# ukdigest as a Slurm job array: each task digests its shard of the
# articles into one shared output folder.
#
#   sbatch --array=0-7 deploy/slurm-array.sh /shared/news/in /shared/news/out
#
# The shard index and count come from SLURM_ARRAY_TASK_ID, _MIN, _STEP and
# _COUNT (array ids need not start at 0: --array=10-17 works the same);
# pass --shard-count to override. A task that is requeued redoes only its
# own shard and reuses what it finished. The last task to finish rebuilds
# the daily digests from all records; `ukdigest merge OUT` does it on
# demand, e.g. in a dependent job:
#   sbatch --dependency=afterany:<array job id> --wrap "ukdigest merge OUT"
#SBATCH --job-name=ukdigest
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --output=ukdigest-%A_%a.log
set -euo pipefail
IN=${1:?usage: slurm-array.sh IN_DIR OUT_DIR}
OUT=${2:?usage: slurm-array.sh IN_DIR OUT_DIR}
# Models are cached on the shared file system once, not per task.
export UKDIGEST_CACHE=${UKDIGEST_CACHE:-$HOME/.cache/ukdigest}
exec "${UKDIGEST:-ukdigest}" --threads "${SLURM_CPUS_PER_TASK:-4}" digest "$IN" --out "$OUT"
