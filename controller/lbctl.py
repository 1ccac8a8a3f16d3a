"""lbctl: the command line of p4lb, a thin client of the controller's management API.

    lbctl [--socket PATH] [--json] COMMAND...   run one command
    lbctl [--socket PATH] [--json] -f FILE      run a file of commands (stops at the first error)
    lbctl [--socket PATH]                       interactive shell, with history and completion
    lbctl [--socket PATH] top [--interval S] [--count N]   live figures (controller.lbctl_top)

With --json every answer is printed as JSON (one document; with -f one line
per command), as the management API gives it with "json": true.

Commands are VPP's `lb` grammar (`lb conf`, `lb vip`, `lb as`, `lb flush vip`,
`show lb ...`) plus `ip route ...`; `help` lists them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from controller.management_api import CommandError, ManagementClient

DEFAULT_SOCKET = Path(os.environ.get("P4LB_SOCKET", "/tmp/p4lb/controller.sock"))
HISTORY = Path.home() / ".lbctl_history"


def answer(client: ManagementClient, line: str, as_json: bool, indent: int | None = 2) -> str:
    """The command's answer as lbctl prints it; raises CommandError."""
    if as_json:
        return json.dumps(client.query(line), indent=indent)
    return client.run(line)


def run_file(client: ManagementClient, path: Path, as_json: bool = False) -> int:
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        print(f"lbctl: cannot read {path}: {e.strerror}", file=sys.stderr)
        return 2
    for n, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            out = answer(client, line, as_json, indent=None)
        except CommandError as e:
            print(f"{path}:{n}: {line}\n  error: {e}", file=sys.stderr)
            return 1
        if out:
            print(out)
    return 0


def interactive(
    client: ManagementClient, extra_commands: dict[str, Callable[[], object]] | None = None
) -> int:
    """The shell; `extra_commands` are local words (the demo adds `mininet`)."""
    import readline

    from controller.cli_grammar import complete

    def completer(text: str, state: int) -> str | None:
        line = readline.get_line_buffer()
        options = complete(line[: readline.get_endidx()])
        return options[state] if state < len(options) else None

    readline.set_completer(completer)
    readline.set_completer_delims(" ")
    readline.parse_and_bind("tab: complete")
    try:
        readline.read_history_file(HISTORY)
    except OSError:
        pass
    try:
        while True:
            try:
                line = input("lb# ").strip()
            except EOFError:
                print()
                return 0
            if line in ("quit", "exit"):
                return 0
            if not line:
                continue
            if extra_commands and line in extra_commands:
                extra_commands[line]()
                continue
            try:
                out = client.run(line)
                if out:
                    print(out)
            except CommandError as e:
                print(f"error: {e}")
    except KeyboardInterrupt:
        print()
        return 0
    finally:
        try:
            readline.write_history_file(HISTORY)
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lbctl", description=__doc__.splitlines()[0])
    parser.add_argument("--socket", type=Path, default=DEFAULT_SOCKET)
    parser.add_argument("-f", "--file", type=Path, help="run the commands in FILE")
    parser.add_argument("--json", action="store_true", help="print answers as JSON")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command and args.command[-1] == "--json":  # `lbctl show lb --json`
        args.command.pop()
        args.json = True
    try:
        client = ManagementClient(args.socket)
    except OSError as e:
        print(f"lbctl: cannot reach the controller at {args.socket}: {e.strerror or e}",
              file=sys.stderr)
        return 2
    try:
        if args.file:
            return run_file(client, args.file, args.json)
        if args.command[:1] == ["top"]:
            from controller import lbctl_top

            try:
                return lbctl_top.run(client.query, args.command[1:])
            except CommandError as e:
                print(f"error: {e}", file=sys.stderr)
                return 1
        if args.command:
            try:
                out = answer(client, " ".join(args.command), args.json)
            except CommandError as e:
                print(f"error: {e}", file=sys.stderr)
                return 1
            if out:
                print(out)
            return 0
        return interactive(client)
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
