"""The ``oxinfra`` command.

    oxinfra [OPTIONS] INVENTORY DEPLOY.py...
    oxinfra [OPTIONS] INVENTORY MODULE.OP [VALUE...] [key=value...]   (:mod:`oxinfra.cli.operation`)
    oxinfra [OPTIONS] INVENTORY exec -- COMMAND...
    oxinfra [OPTIONS] INVENTORY debug-inventory [--json]
    oxinfra [OPTIONS] INVENTORY fact MODULE.Fact [key=value...]... [--json]

Exit codes (:mod:`oxinfra.cli.outcome`): 0 every host succeeded; 1 some host failed; 2 bad
input or usage (nothing ran); 4 some host unreachable and none failed; 70 internal error;
74 ``fact`` or ``debug-inventory`` could not write stdout; 130 interrupted; 141 stdout closed
while ``fact`` or ``debug-inventory`` printed.
What is printed, and how (recap, progress, colour, -v levels): :mod:`oxinfra.cli.render`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from oxinfra.cli.complete import HELP as COMPLETION
from oxinfra.cli.complete import complete_inventory, complete_targets
from oxinfra.cli.console import ask_yes_no
from oxinfra.cli.forms import SETTINGS_ERROR, SETTINGS_LISTS, Finite, OxinfraCommand
from oxinfra.cli.privilege import run_privilege
from oxinfra.cli.ssh import ssh_overrides
from oxinfra.cli.outcome import CLOSED_PIPE, HELP, INTERNAL, INTERRUPTED, exit_code
from oxinfra.cli.render import Renderer

__all__ = ["main"]


def _parse_data(values: tuple[str, ...]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.isidentifier():
            raise click.BadParameter(f"{item!r}: write KEY=VALUE with KEY a Python identifier", param_hint="--data")
        try:
            data[key] = json.loads(raw)
        except ValueError:
            data[key] = raw
    return data


def _version() -> str:
    from oxinfra._core import __version__

    return str(__version__)


HOSTS_PER_SHARD = 20_000


def auto_shards(hosts: int) -> int:
    """``--shards auto``: one worker per 20,000 hosts, at most one per CPU. Measured on 2 CPUs
    (benches/sim.py, 20 operations, dry): 2 workers are slower than 1 at 10,000 hosts
    (0.80 s vs 0.73 s), faster at 30,000 (1.61 s vs 1.81 s) and 100,000 (5.1 s vs 6.6 s); on
    a loopback fleet of 1,000 real hosts sharing the CPUs with their sshd, 2 workers were
    slower (17.6 s vs 16.6-16.9 s) and used 27% more CPU."""
    return max(1, min(os.cpu_count() or 1, hosts // HOSTS_PER_SHARD))


if TYPE_CHECKING:
    _ShardsParam = click.ParamType[int | None]
else:  # before click 8.4, ParamType is not generic (not subscriptable at run time)
    _ShardsParam = click.ParamType


class _ShardsType(_ShardsParam):
    name = "N|auto"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | None:
        if value is None or value == "auto":
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of shards or 'auto'", param, ctx)
        if number < 1:
            self.fail("needs at least 1 shard", param, ctx)
        return number


_SHARDS = _ShardsType()


@click.command(
    cls=OxinfraCommand, context_settings={"help_option_names": ["-h", "--help"]}, epilog=f"{HELP}\n\n{COMPLETION}"
)
@click.argument("inventory", shell_complete=complete_inventory)
@click.argument("targets", nargs=-1, required=True, shell_complete=complete_targets)
@click.option("--dry", is_flag=True, help="Show what would change on each host; change nothing.")
@click.option(
    "--diff",
    "diff",
    is_flag=True,
    help="Show what operations change in files (with --dry: would change): after the run, a "
    "unified diff per file, once per group of hosts with the same change (files.put, template, "
    "line, replace, block, sync, file). Binary and large (over 1 MiB) files are summarised, "
    "secrets masked, the contents of _sensitive operations and of those given a Secret not "
    "shown. The files' current contents are read with the operations' other facts (no extra "
    "round trip). --json: the operation events' diff field.",
)
@click.option("-y", "--yes", is_flag=True, help="Execute without asking for confirmation.")
@click.option(
    "--limit",
    multiple=True,
    metavar="PATTERN",
    help="Only these hosts: group or host names, globs, ranges, !exclusions; comma-separated or repeated. "
    "@FILE: the names or patterns FILE lists, one per line (# comments).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="PATTERN",
    help="Leave out the hosts PATTERN selects (as --limit reads it: names, groups, globs, ranges, @FILE); "
    "with --limit, of the hosts it selects. A pattern that matches no host is an error.",
)
@click.option(
    "--retry-failed",
    "retry_failed",
    is_flag=True,
    help="Run only the hosts the last run did not finish (failed, unreachable, interrupted, not "
    "started...), as recorded in the state file.",
)
@click.option(
    "--state-file",
    "state_file",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    default=".oxinfra/last-run.json",
    show_default=True,
    envvar="OXINFRA_STATE_FILE",
    help="Where every run that executes records the hosts it did not finish (relative to the working "
    "directory), and --retry-failed reads them. Also from OXINFRA_STATE_FILE.",
)
@click.option(
    "--group-data",
    "group_data",
    multiple=True,
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Also read group data from DIR/<group>.py (wins over group_data/ folders).",
)
@click.option("--parallel", type=click.IntRange(min=1), default=None, help="At most N hosts at once.")
@click.option(
    "--serial",
    is_flag=True,
    help="One host at a time, in inventory order, each through its whole deploy (pyinfra's "
    "--serial; --parallel 1 in one process).",
)
@click.option(
    "--no-wait",
    "no_wait",
    is_flag=True,
    help="Accepted for pyinfra: oxinfra never makes hosts wait for each other between operations, with or without it.",
)
@click.option(
    "--chdir",
    metavar="DIR",
    type=click.Path(file_okay=False),
    default=None,
    help="Change to DIR first: the inventory, deploy files, config files and every other relative "
    "path are read from there.",
)
@click.option("--data", "data", multiple=True, metavar="KEY=VALUE", help="Override host data (value may be JSON).")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="More output (pyinfra's levels): -v every operation's outcome on every host, -vv the "
    "commands too, -vvv what they printed (stdout and stderr, server.shell's included).",
)
@click.option("-q", "--quiet", is_flag=True, help="Only failures and the hosts' recap line; no progress.")
@click.option(
    "--no-color",
    "no_color",
    is_flag=True,
    help="No colours (also when NO_COLOR is set; never any when stdout is not a terminal).",
)
@click.option(
    "--debug",
    is_flag=True,
    envvar="OXINFRA_TRACEBACK",
    help="On an error, print the traceback too (otherwise one line and a hint). Also OXINFRA_TRACEBACK=1.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event on stdout, then a summary.")
@click.option(
    "--shards",
    type=_SHARDS,
    default="auto",
    show_default=True,
    envvar="OXINFRA_SHARDS",
    help="Spread the hosts over N worker processes, one event loop each. auto: one per "
    "20,000 hosts, at most one per CPU (1 below 40,000 hosts on 2 CPUs). Also from OXINFRA_SHARDS.",
)
@click.option(
    "--report",
    "report_path",
    metavar="FILE.json",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write per-phase and per-host timings and round trips to FILE.json.",
)
@click.option(
    "--ssh-config",
    "ssh_config",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    default=None,
    envvar="OXINFRA_SSH_CONFIG",
    help="OpenSSH client config for hosts without ssh_config_file data (default: ~/.ssh/config). "
    "Also from OXINFRA_SSH_CONFIG.",
)
@click.option("--ssh-user", "--user", "ssh_user", metavar="USER", default=None, help="SSH user for every host.")
@click.option(
    "--ssh-port", "--port", "ssh_port", type=click.IntRange(1, 65535), default=None, help="SSH port for every host."
)
@click.option(
    "--ssh-key",
    "--key",
    "ssh_key",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    default=None,
    help="SSH private key for every host.",
)
@click.option(
    "--ssh-key-password",
    "--key-password",
    "ssh_key_password",
    metavar="PASSWORD",
    default=None,
    envvar="OXINFRA_SSH_KEY_PASSWORD",
    help="The --ssh-key's passphrase. Visible in the process list: prefer OXINFRA_SSH_KEY_PASSWORD "
    "or --ask-ssh-key-password.",
)
@click.option("--ask-ssh-key-password", is_flag=True, help="Ask for the --ssh-key's passphrase once.")
@click.option(
    "--ssh-password",
    "--password",
    "ssh_password",
    metavar="PASSWORD",
    default=None,
    envvar="OXINFRA_SSH_PASSWORD",
    help="SSH password for every host. Visible in the process list: prefer OXINFRA_SSH_PASSWORD "
    "or --ssh-password-prompt. The --ssh-* options win over host data, as pyinfra's do "
    "(they are --data ssh_user=... and so on).",
)
@click.option(
    "--ssh-password-prompt",
    "--ask-ssh-password",
    "ssh_password_prompt",
    is_flag=True,
    help="Ask for the SSH password once, for every host.",
)
@click.option("--sudo", "sudo", is_flag=True, help="Run every operation with sudo (its _sudo default).")
@click.option("--sudo-user", metavar="USER", default=None, help="sudo to USER (every operation's _sudo_user default).")
@click.option("--su-user", metavar="USER", default=None, help="su to USER (every operation's _su_user default).")
@click.option(
    "--sudo-password",
    metavar="PASSWORD",
    default=None,
    envvar="OXINFRA_SUDO_PASSWORD",
    help="sudo's password, given to sudo on its stdin. Other users of this machine can read it in "
    "the process list: prefer OXINFRA_SUDO_PASSWORD or --ask-sudo-password.",
)
@click.option("--ask-sudo-password", is_flag=True, help="Ask for sudo's password once, for every host.")
@click.option(
    "--fail-percent",
    "fail_percent",
    type=Finite(0, 100),
    default=None,
    metavar="N",
    help="Once more than N percent of the hosts failed or were unreachable, start no new host (they end "
    "'not started'); running hosts finish the script they run and send no other. Runs in one process.",
)
@click.option(
    "--host-timeout",
    "host_timeout",
    type=Finite(0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="A host not done this long after it starts connecting ends unreachable "
    "(its running command is killed on the host).",
)
@click.option(
    "--round-trip-timeout",
    "round_trip_timeout",
    type=Finite(0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="A script without its answer this long (a stalled command, a host that "
    "stopped answering) ends that host unreachable (the command is killed).",
)
@click.option(
    "--lock-timeout",
    "lock_timeout",
    type=Finite(0),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another run's lock on a host (one run at a time per "
    "host) before that host fails; 0: do not wait.",
)
@click.option(
    "--no-host-lock", "no_host_lock", is_flag=True, help="Take no lock on the hosts (runs may then overlap on a host)."
)
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    default="config.py",
    show_default=True,
    help="pyinfra's config file, read if it exists (relative to the working directory): "
    "`from oxinfra import config; config.SUDO = True` sets defaults of every operation's global "
    "arguments; config.PARALLEL and config.FAIL_PERCENT those of --parallel and --fail-percent. "
    "The command line wins over it.",
)
@click.version_option(version=_version(), prog_name="oxinfra", message="%(prog)s %(version)s")
def main(
    inventory: str,
    targets: tuple[str, ...],
    dry: bool,
    diff: bool,
    yes: bool,
    limit: tuple[str, ...],
    group_data: tuple[str, ...],
    parallel: int | None,
    data: tuple[str, ...],
    verbose: int,
    quiet: bool,
    no_color: bool,
    debug: bool,
    as_json: bool,
    shards: int | None,
    report_path: str | None,
    ssh_config: str | None,
    fail_percent: float | None,
    host_timeout: float | None,
    round_trip_timeout: float | None,
    retry_failed: bool,
    state_file: str,
    lock_timeout: float,
    no_host_lock: bool,
    config_file: str = "config.py",
    sudo: bool = False,
    sudo_user: str | None = None,
    su_user: str | None = None,
    sudo_password: str | None = None,
    ask_sudo_password: bool = False,
    ssh_user: str | None = None,
    ssh_port: int | None = None,
    ssh_key: str | None = None,
    ssh_key_password: str | None = None,
    ask_ssh_key_password: bool = False,
    ssh_password: str | None = None,
    ssh_password_prompt: bool = False,
    exclude: tuple[str, ...] = (),
    serial: bool = False,
    no_wait: bool = False,
    chdir: str | None = None,
) -> None:
    """Run DEPLOY.py files, one operation (`MODULE.OP key=value...`, such as `files.line
    path=/etc/motd line=hi`; values read as JSON where they parse), or `exec -- COMMAND`
    against INVENTORY; `debug-inventory` shows the hosts, groups and data instead; `fact
    MODULE.Fact [key=value...]...` prints each fact's value on every host, as
    `{"<host>": value}`.

    INVENTORY is a Python inventory file, an Ansible inventory (INI or YAML), module:function
    (a dynamic inventory), a comma-separated list of hosts, or @local.

    `oxinfra INVENTORY exec --help` (or `fact`, `debug-inventory`, `MODULE.OP`) shows the help
    of that form.

    Option defaults may be set in oxinfra.toml, or [tool.oxinfra] in pyproject.toml, in the
    working directory (parallel = 20, ssh_user = "deploy", sudo = true, data = {...}). First
    wins: command line, environment variable, oxinfra.toml, pyproject.toml, config.py.
    """
    from oxinfra.exceptions import DeployError, OxinfraError

    renderer = Renderer(as_json=as_json, verbose=verbose, quiet=quiet, no_color=no_color, diff=diff)
    if not renderer.console.out_color:  # facts, debug-inventory: click.echo strips styles
        click.get_current_context().color = False
    # Read (by click) and gone: no process this one starts (the @local shell, shard workers)
    # inherits the password in its environment.
    for name in ("OXINFRA_SUDO_PASSWORD", "OXINFRA_SSH_PASSWORD", "OXINFRA_SSH_KEY_PASSWORD"):
        os.environ.pop(name, None)
    # SIGTERM before and after the hosts run is Ctrl-C (while they run, the run's own handlers
    # end the remote work and print the partial summary).
    signal.signal(signal.SIGTERM, _terminate)
    control: dict[str, Any] = {
        "fail_percent": fail_percent,
        "host_timeout": host_timeout,
        "round_trip_timeout": round_trip_timeout,
        "lock_timeout": None if no_host_lock else lock_timeout,
        "handle_signals": True,
        "retry_failed": retry_failed,
        "state_file": state_file,
        "exclude": exclude,
        "diff": diff,
    }
    try:
        meta = click.get_current_context().meta
        if meta.get(SETTINGS_ERROR):
            raise DeployError(meta[SETTINGS_ERROR])
        data = (*meta.get(SETTINGS_LISTS + "data", ()), *data)  # the command line's win
        group_data = (*meta.get(SETTINGS_LISTS + "group_data", ()), *group_data)
        if chdir is not None:
            _chdir(chdir)
        if ssh_config:  # read by every run's connection settings, shard workers included
            if not os.path.isfile(ssh_config):
                raise DeployError(f"--ssh-config {ssh_config}: no such file")
            os.environ["OXINFRA_SSH_CONFIG"] = os.path.abspath(ssh_config)
        if serial:  # one host at a time: one process, one slot
            if parallel not in (None, 1) and _given("parallel"):
                raise click.UsageError("--serial runs one host at a time: give --serial or --parallel N, not both")
            parallel, shards = 1, 1
        from oxinfra.cli.config import read_config

        config = read_config(config_file)
        if parallel is None and config.PARALLEL and not serial:
            parallel = config.PARALLEL
        if control["fail_percent"] is None and config.FAIL_PERCENT is not None:
            control["fail_percent"] = config.FAIL_PERCENT
        privilege = run_privilege(sudo, sudo_user, su_user, sudo_password, ask_sudo_password)
        control["config_args"] = config.global_args()
        overrides = _parse_data(data)
        overrides.update(
            ssh_overrides(
                ssh_user,
                ssh_port,
                ssh_key,
                ssh_key_password,
                ssh_password,
                ssh_password_prompt,
                ask_ssh_key_password,
            )
        )
        code = _run(
            inventory,
            targets,
            dry,
            yes,
            limit,
            group_data,
            parallel,
            overrides,
            renderer,
            report_path,
            shards,
            privilege,
            control,
        )
    except OxinfraError as exc:
        if debug:
            _traceback()
        renderer.error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        renderer.error("interrupted")
        sys.exit(INTERRUPTED)
    except (click.ClickException, click.exceptions.Abort, click.exceptions.Exit):
        raise
    except BrokenPipeError:  # stdout closed while facts or the inventory were printed
        from oxinfra.cli.console import silence_stdout

        silence_stdout()
        sys.exit(CLOSED_PIPE)
    except Exception as exc:  # a bug: one line (the traceback on request), never a bare traceback
        if debug:
            _traceback()
        renderer.error(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="this is a bug in oxinfra; run again with --debug to see where, and report it",
        )
        sys.exit(INTERNAL)
    renderer.console.flush()
    sys.exit(code)


def _chdir(path: str) -> None:
    from oxinfra.exceptions import DeployError

    try:
        os.chdir(path)
    except OSError as exc:
        raise DeployError(f"--chdir {path}: {exc.strerror or exc}") from None


def _given(name: str) -> bool:
    """Whether option ``name`` was given on the command line (not a default or a setting)."""
    from click.core import ParameterSource

    return click.get_current_context().get_parameter_source(name) is ParameterSource.COMMANDLINE


def _traceback() -> None:
    import traceback

    traceback.print_exc()


def _facts(
    inventory: Any,
    words: list[str],
    renderer: Renderer,
    parallel: int | None,
    global_args: dict[str, Any],
    control: dict[str, Any],
) -> int:
    """``fact MODULE.Fact key=value...``: read facts on every host and print them."""
    import asyncio

    from oxinfra._engine.control import RunControl
    from oxinfra._engine.facts import read_facts_async
    from oxinfra._engine.pipeline import check_defaults
    from oxinfra.api.arguments import split_global_args
    from oxinfra.cli.facts import facts_exit_code, parse_facts, print_facts

    asks = parse_facts(words)
    settings = split_global_args({}, check_defaults(global_args), "")[0].privilege_settings
    run_control = RunControl(**{k: v for k, v in control.items() if k in ("host_timeout", "round_trip_timeout")})
    answers = asyncio.run(read_facts_async(inventory, asks, parallel, settings or None, run_control))
    from oxinfra.cli.console import printing

    with printing():
        print_facts(asks, answers, renderer.as_json, renderer.redactor)
        sys.stdout.flush()
    return facts_exit_code(answers)


def exec_line(words: tuple[str, ...] | list[str]) -> str:
    """``exec -- WORDS``: one word is a shell command line, run as written (``exec -- 'ls |
    wc -l'``); several are a program and its arguments, each quoted, so ``exec -- echo "a  b"``
    prints ``a  b`` (the local shell already split and unquoted them)."""
    from oxinfra.quoting import quote

    if len(words) == 1:
        return words[0]
    return " ".join(quote(word) for word in words)


def _redactor(inventory: Any, privilege: Any) -> Any:
    """What masks the run's secrets in everything printed: the inventory's, the sudo password,
    and every :class:`~oxinfra.api.Secret` given in an operation's arguments."""
    from oxinfra._secrets import Redactor

    secrets = [*inventory.secret_values(), *(privilege.secrets() if privilege is not None else ())]
    return Redactor(secrets, registered=True)


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _run(
    inventory_spec: str,
    targets: tuple[str, ...],
    dry: bool,
    yes: bool,
    limit: tuple[str, ...],
    group_data: tuple[str, ...],
    parallel: int | None,
    overrides: dict[str, Any],
    renderer: Renderer,
    report_path: str | None = None,
    shards: int | None = 1,
    privilege: Any = None,
    control: dict[str, Any] | None = None,
) -> int:
    from oxinfra.inventory import load_inventory

    from pathlib import Path

    from oxinfra.cli.state import STATE_FILE, expand_limit, hosts_to_retry, record_run

    from oxinfra.cli.operation import is_operation_word, operation_deploy, parse_operation, recorded_words

    # MODULE.OP: checked before the inventory loads (a typo costs no inventory load)
    operation = parse_operation(targets) if is_operation_word(targets[0]) else None
    control = dict(control or {})
    config_args = control.pop("config_args", {})
    retry_failed = control.pop("retry_failed", False)
    exclude = control.pop("exclude", ())
    state_file = Path(control.pop("state_file", None) or STATE_FILE)
    started = time.perf_counter()
    inventory = load_inventory(inventory_spec, overrides, group_data)
    if retry_failed:
        retry, last = hosts_to_retry(state_file)
        if not retry:
            renderer.notice(
                f"--retry-failed: every host of the last run ({last.get('finished', '?')}) succeeded: nothing to retry"
            )
            return 0
        inventory = inventory.only(retry, f"--retry-failed: {state_file} (the run of {last.get('inventory')!r})")
    if limit:
        inventory = inventory.limit(expand_limit(limit))
    if exclude:
        inventory = inventory.exclude(expand_limit(exclude, "--exclude"))
    inventory_seconds = time.perf_counter() - started
    renderer.redactor = _redactor(inventory, privilege)
    if shards is None:
        shards = auto_shards(len(inventory.hosts))
    if targets[0] == "debug-inventory":
        from oxinfra.cli.inventory import debug_inventory

        if len(targets) > 1:
            raise click.UsageError("debug-inventory takes no further arguments")
        from oxinfra.cli.console import printing

        with printing():
            debug_inventory(inventory, renderer.as_json)
            sys.stdout.flush()
        return 0
    from oxinfra._engine.control import RunControl
    from oxinfra._engine.run import run
    from oxinfra.exceptions import DeployError

    # config.py's defaults, under the command line's
    global_args = {**config_args, **(privilege.global_args() if privilege is not None else {})}
    if config_args.get("_sudo_password"):  # config.py's config.SUDO_PASSWORD: masked like --sudo-password
        renderer.redactor.add([str(config_args["_sudo_password"])])
    if privilege is not None:
        renderer.redactor.add(privilege.secrets())  # asked for just now
    if targets[0] == "fact":
        return _facts(inventory, list(targets[1:]), renderer, parallel, global_args, control)
    exec_command = None
    if targets[0] == "exec":
        if len(targets) < 2:
            raise DeployError("exec needs a command: oxinfra INVENTORY exec -- COMMAND")
        exec_command = exec_line(targets[1:])
        renderer.exec_command = exec_command
        deploys: list[Any] = []
    elif operation is not None:
        deploys = [operation_deploy(operation)]
    else:
        deploys = list(targets)
    renderer.start_progress()
    if not dry and not yes and exec_command is None:
        if not sys.stdin.isatty():
            raise DeployError("not a terminal, cannot ask for confirmation: pass -y to execute, or --dry to preview")
        preview = run(
            inventory,
            deploys,
            dry=True,
            parallel=parallel,
            on_event=renderer.event,
            exec_command=exec_command,
            shards=shards,
            global_args=global_args,
            control=RunControl(**(control or {})),
        )
        recap = renderer.finish(preview, preview=True)
        if preview.interrupted:
            return exit_code(preview)
        if not recap.would_change:  # nothing to confirm: nothing would change
            renderer.notice("nothing would change: not asking to execute")
            return exit_code(preview)
        renderer.stop_progress()
        question = f"Execute these changes ({recap.would_change} operations on {len(recap.hosts['changed'])} hosts)?"
        try:
            confirmed = ask_yes_no(question)
        except EOFError:  # Ctrl-D: no answer is no
            renderer.console.line()
            renderer.error("no answer: nothing changed")
            return 0
        except KeyboardInterrupt:
            renderer.console.line()
            renderer.error("interrupted at the prompt: nothing changed")
            return INTERRUPTED
        if not confirmed:
            return 0
        renderer.reset()
        renderer.start_progress()
    result = run(
        inventory,
        deploys,
        dry=dry,
        parallel=parallel,
        on_event=renderer.event,
        exec_command=exec_command,
        shards=shards,
        global_args=global_args,
        control=RunControl(**(control or {})),
    )
    result.timings["inventory"] = inventory_seconds
    renderer.finish(result)
    if not dry:
        words = renderer.masked(recorded_words(targets))  # an exec command may hold a secret's text
        warning = record_run(result, renderer.masked(inventory_spec), words, exit_code(result), state_file)
        if warning:
            renderer.notice(warning)
    if report_path:
        from oxinfra._engine.report import write_report

        write_report(result, report_path, renderer.redactor)
    return exit_code(result)
