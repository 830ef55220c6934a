"""Bulk transfer through the dev hub's v2 tunnel: `ssh host head -c N M /dev/zero` via the port
map; prints the agent's CPU per MiB; with a third argument records `perf record -g` of the agent
(then `perf report -i $BULK_WORKDIR/perf.data --sort dso`).

Usage: .venv/bin/python Tests/bench/tunnel_bulk.py .build/release/tether 64 [perf]
"""
import os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from hub.testing import HubProcess, AgentProcess, agent_env, write_device_key
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
w = os.environ.get("BULK_WORKDIR", "/tmp/tether-bulk"); os.makedirs(w, exist_ok=True)
hub = HubProcess(w + '/hub', '--port-map', 'e2e-board=0').start()
write_device_key(w + '/dev.key')
agent = AgentProcess([sys.argv[1], 'run'], agent_env(hub.url, w + '/dev.key', tenant='00000000-0000-4000-0000-000000000000', extra={'SHELLHUB_LOG_LEVEL': 'info'}), w + '/agent.log')
dev = hub.wait_device(lambda d: d['connected'], 30)
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
open(w + '/id', 'wb').write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())); os.chmod(w + '/id', 0o600)
hub.api('POST', '/api/hub/ssh-keys', {'private_key': key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()).decode()})
port = hub.port_map(dev['uid'])
mib = int(sys.argv[2])
def stat():
    f = open(f'/proc/{agent.proc.pid}/stat').read().split(')')[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')
perf = subprocess.Popen(['perf', 'record', '-g', '-o', w + '/perf.data', '-p', str(agent.proc.pid)], stderr=subprocess.DEVNULL) if len(sys.argv) > 3 else None
c0 = stat(); t0 = time.time()
r = subprocess.run(['ssh', '-p', str(port), '-i', w + '/id', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', 'root@127.0.0.1', f'head -c {mib}M /dev/zero'], stdout=subprocess.PIPE)
t1 = time.time(); c1 = stat()
if perf: perf.send_signal(2); perf.wait()
print(f'{len(r.stdout) / 1048576:.0f} MiB in {t1 - t0:.1f} s; agent CPU {c1 - c0:.2f} s = {(c1 - c0) * 1000 / mib:.2f} ms/MiB')
agent.stop(); hub.stop()
