#!/bin/bash
# Starts a one-node Slurm cluster on this machine (for the end-to-end test and for trying deploy/slurm/*.sbatch):
# munged, slurmctld and slurmd, all on 127.0.0.1. Needs root and Debian's packages:
#   apt-get install -y --no-install-recommends slurm-wlm munge
# Idempotent: a running cluster is left as it is. Stop it with: deploy/slurm/start-local-cluster.sh stop
set -euo pipefail

conf=/etc/slurm/slurm.conf
if [ "${1:-}" = stop ]; then
    for daemon in slurmd slurmctld munged; do
        # Every pid in the file (an older start may have recorded the daemon's exited parent too).
        if [ -f "/run/nativeconv-$daemon.pid" ]; then xargs -r kill < "/run/nativeconv-$daemon.pid" 2>/dev/null || true; rm -f "/run/nativeconv-$daemon.pid"; fi
    done
    exit 0
fi
for tool in munged slurmctld slurmd sbatch; do
    command -v "$tool" >/dev/null || { echo "start-local-cluster: $tool not found; install: apt-get install -y --no-install-recommends slurm-wlm munge" >&2; exit 1; }
done
if scontrol ping 2>/dev/null | grep -q UP && sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "start-local-cluster: already running"; exit 0
fi

# munge: its key (0400, owned by munge) and /run/munge, which no service manager made for us here.
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0400 /etc/munge/munge.key
chmod 0755 /run/munge
if ! pgrep -u munge -x munged >/dev/null; then
    runuser -u munge -- munged
    pgrep -n -u munge -x munged > /run/nativeconv-munged.pid
fi

# slurm.conf for one node at 127.0.0.1, its socket/core layout as slurmd sees it, memory a little below the real total.
node=$(hostname -s)
layout=$(slurmd -C | head -1 | grep -oE '(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=[0-9]+' | tr '\n' ' ')
total_mb=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
memory=$((total_mb * 9 / 10))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
chown slurm:slurm /var/spool/slurmctld /var/log/slurm 2>/dev/null || true
cat > "$conf" <<CONF
ClusterName=nativeconv-local
SlurmctldHost=$node(127.0.0.1)
SlurmUser=slurm
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=30
MaxArraySize=1001
NodeName=$node NodeAddr=127.0.0.1 $layout RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF

pgrep -x slurmctld >/dev/null || { slurmctld; sleep 0.5; pgrep -n -x slurmctld > /run/nativeconv-slurmctld.pid; }
pgrep -x slurmd >/dev/null || { slurmd; sleep 0.5; pgrep -n -x slurmd > /run/nativeconv-slurmd.pid; }
for _ in $(seq 1 50); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        scontrol update NodeName="$node" State=RESUME 2>/dev/null || true
        echo "start-local-cluster: up ($(sinfo -h -o '%P %D %c CPUs %m MB %T'))"; exit 0
    fi
    sleep 0.2
done
echo "start-local-cluster: the node did not come up; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
sinfo >&2 || true
exit 1
