# p4lb: `make run` starts the demo, `make test` runs every test.
# TARGET=embedded (default) uses the switch in p4switch/; TARGET=bmv2 uses
# simple_switch_grpc from PATH.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
TARGET ?= embedded
P4C    ?= p4c
export TARGET

P4_SOURCES := $(wildcard p4src/*.p4)
P4_BUILD   := p4src/build
# Small programs of our own that exercise the embedded switch feature by feature.
TEST_P4_SOURCES := $(wildcard tests/p4switch/p4/*.p4)
TEST_P4_BUILD   := tests/p4switch/p4/build

# p4runtime-shell pins protobuf < 3.21 and p4runtime 1.4.1, which cannot share
# an environment with the compiled protobuf p4lb runs on: it gets its own.
SHELL_VENV := .venv-shell
SHELL_PY   := $(SHELL_VENV)/bin/python
P4RUNTIME_SHELL := p4runtime-shell==0.0.6
# make shell: the switch to open p4runtime-shell on (make run prints it).
P4RUNTIME ?= 127.0.0.1:9559
DEVICE_ID ?= 0
# (0,0): a backup next to p4lb's controller (election id 1), which keeps the
# switch; ELECTION_ID=1,0 takes over as primary.
ELECTION_ID ?= 0,0

.PHONY: all test fuzz run p4 bench lint venv shell shell-venv clean-venv system-packages \
        system-deps

all: test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

$(SHELL_VENV)/.installed:
	$(PYTHON) -m venv $(SHELL_VENV)
	$(SHELL_PY) -m pip install -q --upgrade pip
	$(SHELL_PY) -m pip install -q '$(P4RUNTIME_SHELL)'
	touch $@

shell-venv: $(SHELL_VENV)/.installed

test: $(VENV)/.installed $(SHELL_VENV)/.installed system-deps
	$(PY) -m pytest tests

# The fuzz suite (tests/fuzz) with a budget 100x the one make test gives it
# (about 17 minutes here); prints hypothesis' figures per test.
fuzz: $(VENV)/.installed system-deps
	P4LB_FUZZ=large $(PY) -m pytest tests/fuzz --hypothesis-show-statistics $(FUZZ_ARGS)

# p4runtime-shell on a running switch (P4RUNTIME=host:port, DEVICE_ID, ELECTION_ID).
shell: $(SHELL_VENV)/.installed
	$(SHELL_PY) -m p4runtime_sh --grpc-addr $(P4RUNTIME) --device-id $(DEVICE_ID) \
	    --election-id $(ELECTION_ID)

# The demo: topology 1 on Mininet (root; Debian's mininet package, installed
# here if missing), the switch, the controller, real TCP requests.
run: $(VENV)/.installed system-deps
	$(PY) -m topo.demo

# As root, install the Debian packages below when one of their tools is
# missing, so the end-to-end tests run instead of skipping; without root
# they are left alone (those tests then say why they skip).
SYSTEM_TOOLS := mnexec ethtool ip nft etcd
system-deps:
	@if [ "$$(id -u)" = 0 ]; then \
	    for tool in $(SYSTEM_TOOLS); do \
	        command -v $$tool >/dev/null || { $(MAKE) --no-print-directory system-packages; break; }; \
	    done; fi

# Debian packages the topologies and end-to-end tests use (root); etcd-server
# for the tests of controllers sharing their configuration (--store etcd://).
system-packages:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    mininet ethtool iproute2 nftables etcd-server etcd-client >/dev/null

# Performance figures, each against a baseline measured in the same run
# (bench/run.py; BMv2 is the baseline when simple_switch_grpc is on PATH).
# BENCH_ARGS=--quick: under a minute;
# --compare bench/results.json: an earlier run beside this one.
bench: $(VENV)/.installed
	$(PY) -m bench.run $(BENCH_ARGS)

lint: $(VENV)/.installed
	$(PY) -m ruff check .

# Compile the data plane and stamp the artifacts with their sources' sha256.
# Needs p4c (not in any package registry; see README).
p4: $(VENV)/.installed
	@command -v $(P4C) >/dev/null || { echo "p4c not found on PATH (see README: Building with p4c)"; exit 1; }
	mkdir -p $(P4_BUILD)
	$(P4C) -b bmv2 --arch v1model --std p4-16 -o $(P4_BUILD) \
	    --p4runtime-files $(P4_BUILD)/lb.p4info.txt p4src/lb.p4
	$(PY) -m tools.p4_stamp write $(P4_BUILD)/lb.stamp.json \
	    --p4c-version "$$($(P4C) --version | tail -1)" \
	    --artifact $(P4_BUILD)/lb.json --artifact $(P4_BUILD)/lb.p4info.txt \
	    $(P4_SOURCES)
	mkdir -p $(TEST_P4_BUILD)
	for src in $(TEST_P4_SOURCES); do \
	    name=$$(basename $$src .p4); \
	    $(P4C) -b bmv2 --arch v1model --std p4-16 -o $(TEST_P4_BUILD) \
	        --p4runtime-files $(TEST_P4_BUILD)/$$name.p4info.txt $$src || exit 1; \
	done
	$(PY) -m tools.p4_stamp write $(TEST_P4_BUILD)/programs.stamp.json \
	    --p4c-version "$$($(P4C) --version | tail -1)" \
	    $(foreach s,$(TEST_P4_SOURCES),--artifact $(TEST_P4_BUILD)/$(notdir $(s:.p4=.json)) \
	        --artifact $(TEST_P4_BUILD)/$(notdir $(s:.p4=.p4info.txt))) \
	    $(TEST_P4_SOURCES)

clean-venv:
	rm -rf $(VENV) $(SHELL_VENV)
