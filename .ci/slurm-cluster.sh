#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the test that submits a sharded run to a real Slurm
# (the recipe of ../shared/notes/slurm-single-node.md, with everything under one folder instead of /etc):
#   slurm-cluster.sh up DIR     starts munged, slurmctld and slurmd with their key, configuration, state and
#                               logs under DIR, and waits until `sinfo` shows the node idle;
#   slurm-cluster.sh down DIR   stops the three daemons (by the process ids they wrote) and removes DIR.
# Clients (sbatch, sinfo) find the cluster through SLURM_CONF=DIR/slurm.conf. Needs root and Debian's
# slurm-wlm and munge, which .ci/run installs.
set -euo pipefail
action=${1:?usage: slurm-cluster.sh up|down DIR}
dir=${2:?usage: slurm-cluster.sh up|down DIR}

stop() {
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    if [ -s "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
}

case $action in
up)
  for tool in /usr/sbin/munged /usr/sbin/slurmctld /usr/sbin/slurmd; do
    [ -x "$tool" ] || { echo "slurm-cluster: $tool is missing: apt-get install slurm-wlm munge (as .ci/run does)" >&2; exit 2; }
  done
  mkdir -p "$dir/munge" "$dir/spool/slurmctld" "$dir/spool/slurmd" "$dir/log"
  chmod 700 "$dir" "$dir/munge"
  head -c 1024 /dev/urandom > "$dir/munge/munge.key"
  chmod 400 "$dir/munge/munge.key"
  /usr/sbin/munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
  host=$(hostname -s)
  memory=$(( $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) - 512 ))
  cat > "$dir/slurm.conf" <<CONF
ClusterName=vae-tests
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/spool/slurmctld
SlurmdSpoolDir=$dir/spool/slurmd
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=$host CPUs=$(nproc) RealMemory=$memory State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$dir/slurm.conf"
  /usr/sbin/slurmctld
  /usr/sbin/slurmd
  for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then sinfo; exit 0; fi
    sleep 1
  done
  echo "slurm-cluster: the node did not become idle in 60 s:" >&2
  sinfo >&2 || true
  tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  stop
  exit 1
  ;;
down)
  stop
  rm -rf "$dir"
  ;;
*)
  echo "usage: slurm-cluster.sh up|down DIR" >&2
  exit 2
  ;;
esac
