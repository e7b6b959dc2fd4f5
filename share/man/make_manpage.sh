#!/usr/bin/env bash
# Writes laneway(1) in roff from the binary's own help text (`laneway help`
# and `laneway CMD --help` for each command), so the page says what --help
# says. Usage: make_manpage.sh LANEWAY_BINARY VERSION [OUT] (default: stdout)
set -euo pipefail
bin="$1"
version="$2"
if [ $# -ge 3 ]; then exec >"$3"; fi
esc() { sed -e 's/\\/\\e/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\&'/"; }
cmds=$("$bin" help | awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1}')
cat <<ROFF
.TH LANEWAY 1 "" "laneway $version" "User Commands"
.SH NAME
laneway \- a local LLM runtime: GGUF models on CPU and GPU, served through named lanes
.SH SYNOPSIS
.B laneway
.I COMMAND
[\fIOPTIONS\fR]
.SH DESCRIPTION
One binary that runs GGUF models on the hardware people have, plans memory before it loads
anything, and serves every model through named lanes with OpenAI- and Ollama-compatible APIs.
Token counts and sizes take suffixes as lanes.yaml does: 128k, 1M, 8GiB, 16GB.
.SH COMMANDS
.nf
ROFF
"$bin" help | awk '/^Subcommands:/{on=1; next} on' | esc
echo ".fi"
for cmd in $cmds; do
  echo ".SH \"laneway $cmd\""
  echo ".nf"
  "$bin" "$cmd" --help 2>&1 | sed -e "s|^Usage: .*laneway|Usage: laneway|" | esc
  if [ "$cmd" = config ]; then
    echo
    "$bin" config check --help 2>&1 | sed -e "s|^Usage: .*laneway|Usage: laneway|" | esc
  fi
  echo ".fi"
done
cat <<ROFF
.SH ENVIRONMENT
.TP
.B NO_COLOR
no colour in terminal output.
.TP
.B LANEWAY_ISA
scalar, avx2 or avx512: force a CPU kernel level.
.TP
.B LANEWAY_MODELS
a folder of GGUF files that serve and ls search first.
.TP
.B LANEWAY_PROBE_ROOT
probe a fixture tree of another machine's /proc and /sys.
.SH EXIT STATUS
0 success, 1 usage error, 2 bad input (a bad file, a model that does not fit, an invalid config).
ROFF
