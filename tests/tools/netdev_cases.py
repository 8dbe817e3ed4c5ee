"""Write fixture cases of the hardware network facts whose values are pyinfra 3.10's own: each
scenario is the output of ``ip -j addr show``, ``ip addr show`` or ``ifconfig -a`` (captured from
the container hosts, or as the tools print it on other systems), given to pyinfra's parser (in
pyinfra's venv) for the value.

    python tests/tools/netdev_cases.py /work/venvs/pyinfra/bin/python
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "facts"
TOOL = Path(__file__).with_name("pyinfra_process.py")

IP_ADDR_CONTAINER = """\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
192: eth0@if193: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default 
    link/ether 02:42:ac:1e:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0
    inet 172.30.0.2/16 brd 172.30.255.255 scope global eth0
       valid_lft forever preferred_lft forever
"""
IP_JSON_CONTAINER = (
    '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue",'
    '"operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00",'
    '"broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,'
    '"scope":"host","label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295}]},'
    '{"ifindex":192,"link_index":193,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],'
    '"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","link_type":"ether",'
    '"address":"02:42:ac:1e:00:02","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"addr_info":[{"family":"inet",'
    '"local":"172.30.0.2","prefixlen":16,"broadcast":"172.30.255.255","scope":"global","label":"eth0",'
    '"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]\n'
)
IP_JSON_MANY = (
    json.dumps(
        [
            {
                "ifname": "enp3s0",
                "mtu": 1500,
                "operstate": "UP",
                "address": "58:11:22:af:50:41",
                "addr_info": [
                    {"family": "inet", "local": "192.168.21.73", "prefixlen": 24, "broadcast": "192.168.21.255"},
                    {"family": "inet", "local": "192.168.21.80", "prefixlen": 32},
                    {"family": "inet6", "local": "2607:4357:bd44:7901::18d2", "prefixlen": 128},
                    {"family": "inet6", "local": "fe80::5a11:22ff:feaf:5041", "prefixlen": 64},
                    {"family": "link", "local": "x"},
                    {"family": "inet"},
                ],
            },
            {"ifname": "wlo1", "operstate": None, "address": "77:88:99:aa:bb:cc"},
            {"operstate": "UP", "mtu": 9000},
            {
                "ifname": "tun0",
                "mtu": 1420,
                "operstate": "UNKNOWN",
                "addr_info": [{"family": "inet6", "local": "fd00::2"}],
            },
        ],
        indent=2,
    )
    + "\n"
)
IP_ADDR_MANY = """\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
    inet6 ::1/128 scope host noprefixroute
       valid_lft forever preferred_lft forever
2: enp1s0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
    altname enx525400123456
    inet 192.168.1.100/24 metric 100 brd 192.168.1.255 scope global dynamic enp1s0
       valid_lft 86000sec preferred_lft 86000sec
    inet 10.1.0.5/8 scope global secondary enp1s0
       valid_lft forever preferred_lft forever
    inet6 2001:db8:85a3::8a2e:370:7334/64 scope global dynamic mngtmpaddr
       valid_lft 86000sec preferred_lft 14000sec
    inet6 fe80::5054:ff:fe12:3456/64 scope link
       valid_lft forever preferred_lft forever
3: wlan0: <NO-CARRIER,BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default qlen 1000
    link/ether 77:88:99:aa:bb:cc brd ff:ff:ff:ff:ff:ff
4: wg0: <POINTOPOINT,NOARP> mtu 1420 qdisc noqueue state UNKNOWN group default qlen 1000
    link/none
    inet 10.8.0.1/24 scope global wg0
       valid_lft forever preferred_lft forever
"""
IFCONFIG_FREEBSD = """\
em0: flags=8863<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500
\toptions=481009b<RXCSUM,TXCSUM,VLAN_MTU,VLAN_HWTAGGING,VLAN_HWCSUM,VLAN_HWFILTER,NOMAP>
\tether 08:00:27:aa:bb:cc
\tinet 10.0.2.15 netmask 0xffffff00 broadcast 10.0.2.255
\tinet6 fe80::a00:27ff:feaa:bbcc%em0 prefixlen 64 scopeid 0x1
\tinet6 2001:db8::15 prefixlen 64
\tmedia: Ethernet autoselect (1000baseT <full-duplex>)
\tstatus: active
\tnd6 options=23<PERFORMNUD,ACCEPT_RTADV,AUTO_LINKLOCAL>
lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> metric 0 mtu 16384
\toptions=680003<RXCSUM,TXCSUM,LINKSTATE,RXCSUM_IPV6,TXCSUM_IPV6>
\tinet6 ::1 prefixlen 128
\tinet6 fe80::1%lo0 prefixlen 64 scopeid 0x2
\tinet 127.0.0.1 netmask 0xff000000
\tgroups: lo
"""
IFCONFIG_LINUX = """\
eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500
        inet 172.17.0.2  netmask 255.255.0.0  broadcast 172.17.255.255
        ether 02:42:ac:11:00:02  txqueuelen 0  (Ethernet)
        RX packets 20  bytes 2656 (2.5 KiB)

lo: flags=73<LOOPBACK,RUNNING>  mtu 65536
        inet 127.0.0.1  netmask 255.0.0.0
        inet6 ::1  prefixlen 128  scopeid 0x10<host>
        loop  txqueuelen 1000  (Local Loopback)
"""
ODD = """\
garbage before any device
7: : <x> mtu 5
    inet 1.2.3.4/0 brd 1.2.3.255
    inet 5.6.7.8/32
8: dup: <DOWN> mtu 100
8: dup: <> mtu 200
    ether 00:11:22:33:44:5
"""
SCENARIOS = {
    "container_ip_json": IP_JSON_CONTAINER,
    "container_ip_text": IP_ADDR_CONTAINER,
    "ip_json_many": IP_JSON_MANY,
    "ip_text_many": IP_ADDR_MANY,
    "ifconfig_freebsd": IFCONFIG_FREEBSD,
    "ifconfig_linux": IFCONFIG_LINUX,
    "odd_text": ODD,
    "no_devices_json": "[]\n",
}
FACTS = ("NetworkDevices", "Ipv4Addresses", "Ipv6Addresses", "Ipv4Addrs", "Ipv6Addrs")


def main() -> None:
    python = sys.argv[1]
    from oxinfra.facts import hardware

    for fact in FACTS:
        cases = [[f"hardware.{fact}", text.split("\n")[:-1], {}] for text in SCENARIOS.values()]
        proc = subprocess.run([python, str(TOOL)], input=json.dumps(cases), capture_output=True, text=True, check=True)
        for (name, text), want in zip(SCENARIOS.items(), json.loads(proc.stdout)):
            assert "error" not in want, (name, want)
            case = {"args": {}, "command": getattr(hardware, fact)().command(), "stdout": text, "rc": 0, "value": want}
            folder = ROOT / f"hardware.{fact}"
            folder.mkdir(exist_ok=True)
            (folder / f"{name}.json").write_text(json.dumps(case, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
