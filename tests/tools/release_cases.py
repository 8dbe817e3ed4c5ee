"""Write fixture cases of server.LinuxDistribution / server.LinuxName whose values are pyinfra
3.10's own: each scenario is a set of /etc/*-release files; the output oxinfra's command would
print for them is the case's stdout, and the value is what pyinfra's parser makes of what its
command would print for the same files (run in pyinfra's venv).

    python tests/tools/release_cases.py /work/venvs/pyinfra/bin/python
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "facts"
TOOL = Path(__file__).with_name("pyinfra_process.py")

DEBIAN = (
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
    'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL="https://www.debian.org/"\n'
    'SUPPORT_URL="https://www.debian.org/support"\nBUG_REPORT_URL="https://bugs.debian.org/"\n'
)
SCENARIOS = {
    "ubuntu_jammy": {
        "lsb-release": "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\n"
        'DISTRIB_DESCRIPTION="Ubuntu 22.04.4 LTS"\n',
        "os-release": 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\n'
        'VERSION="22.04.4 LTS (Jammy Jellyfish)"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n'
        "UBUNTU_CODENAME=jammy\n",
    },
    "centos7": {
        "centos-release": "CentOS Linux release 7.9.2009 (Core)\n",
        "os-release": 'NAME="CentOS Linux"\nVERSION="7 (Core)"\nID="centos"\nID_LIKE="rhel fedora"\n'
        'VERSION_ID="7"\nPRETTY_NAME="CentOS Linux 7 (Core)"\n',
        "redhat-release": "CentOS Linux release 7.9.2009 (Core)\n",
        "system-release": "CentOS Linux release 7.9.2009 (Core)\n",
    },
    "centos8_minor_from_release_file": {
        "centos-release": "CentOS Linux release 8.5.2111\n",
        "os-release": 'NAME="CentOS Linux"\nVERSION="8"\nID="centos"\nVERSION_ID="8"\nPRETTY_NAME="CentOS Linux 8"\n',
    },
    "alpine": {
        "alpine-release": "3.19.1\n",
        "os-release": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n',
    },
    "arch_empty_release_file": {
        "arch-release": "",
        "os-release": 'NAME="Arch Linux"\nPRETTY_NAME="Arch Linux"\nID=arch\nBUILD_ID=rolling\n',
    },
    "rhel6_release_file_only": {"redhat-release": "Red Hat Enterprise Linux Server release 6.10 (Santiago)\n"},
    "opensuse_leap": {
        "os-release": 'NAME="openSUSE Leap"\nVERSION="15.5"\nID="opensuse-leap"\nID_LIKE="suse opensuse"\n'
        'VERSION_ID="15.5"\nPRETTY_NAME="openSUSE Leap 15.5"\n'
    },
    "os_release_shell_syntax": {
        "os-release": "# comment line\nNAME='Single Quoted'\nID=custom  # trailing comment\n"
        'VERSION="1.2, Codename Here"\nDESC="multi\nline \\"value\\""\nODD=a\\ b\n'
    },
    "no_trailing_newline": {"os-release": "ID=debian\nVERSION_ID=12"},
    "no_release_files": {},
    "carriage_returns": {"os-release": 'NAME="Dos\r\nStyle"\r\nID=dos\r\nVERSION_ID="1.\r2"\r\n'},
    "unknown_id_takes_name": {"os-release": 'NAME="Foo OS"\nID=foo\nVERSION_ID=2024.1\n'},
}
ERRORS = {
    "unclosed_quote": ({"os-release": 'NAME="Debian\nID=debian\n'}, 'no closing " quote'),
}


def our_stdout(files: dict[str, str]) -> str:
    return "".join(f"{len(c.encode())} /etc/{name}\n{c}" for name, c in sorted(files.items()))


def pyinfra_lines(files: dict[str, str]) -> list[str]:
    text = "".join(
        f"/etc/{name}\n{c}---\n" if c.endswith("\n") or not c else f"/etc/{name}\n{c}\n---\n"
        for name, c in sorted(files.items())
    )
    return text.split("\n")[:-1]


def main() -> None:
    python = sys.argv[1]
    cases = [["server.LinuxDistribution", pyinfra_lines(f), {}] for f in SCENARIOS.values()]
    proc = subprocess.run([python, str(TOOL)], input=json.dumps(cases), capture_output=True, text=True, check=True)
    for (name, files), value in zip(SCENARIOS.items(), json.loads(proc.stdout)):
        assert "error" not in value, (name, value)
        for fact, want in (("LinuxDistribution", value), ("LinuxName", value["name"])):
            case = {"args": {}, "command": None, "stdout": our_stdout(files), "rc": 0, "value": want}
            write(fact, name, case)
    for name, (files, error) in ERRORS.items():
        for fact in ("LinuxDistribution", "LinuxName"):
            write(fact, name, {"args": {}, "command": None, "stdout": our_stdout(files), "rc": 0, "error": error})


def write(fact: str, name: str, case: dict) -> None:
    from oxinfra.facts.server import LinuxDistribution

    case["command"] = LinuxDistribution().command()
    folder = ROOT / f"server.{fact}"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(case, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
