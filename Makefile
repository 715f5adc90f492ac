# Two commands do all set-up on a fresh machine:
#   make book   creates .venv, installs svrnn_lite with its extras, vendors the book's JavaScript,
#               executes every chapter and builds the site into book/_build/html
#   make test   the same set-up, then lint, package tests + doctests, nbval over the chapters,
#               a -W build of the site from the stored notebook outputs, and browser tests of it
# .ci/run calls `make test` and nothing else.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
VENDOR := book/_vendor
VENDOR_STAMP := $(VENDOR)/.stamp
NPM_DIR := book/_build/npm
STORED := book/_build/stored

.PHONY: book test install vendor chromium lint book-stored pytest clean help student

help:
	@echo "make book   build the book (executes the notebooks) into book/_build/html"
	@echo "make test   run every test (lint, pytest, doctests, nbval, site build, browser)"
	@echo "make student  the student edition (no solutions, code to complete) in book/_build/student"
	@echo "make clean  remove build output (keeps .venv)"

# --- set-up --------------------------------------------------------------------------------
# torch first, pinned to the CPU wheel on this machine's disk, so no later requirement pulls
# a different (multi-GB CUDA) build.
$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	@touch $@

install: $(INSTALLED)

# MathJax, require.js and the ipywidgets HTML manager, pinned in book/vendor/package.json,
# copied into book/_vendor (build output, not committed; Sphinx copies it into the site's
# _static/) so the site works offline. Not book/_static: Jupyter Book would add every .js file
# found there to every page.
$(VENDOR_STAMP): book/vendor/package.json
	rm -rf $(NPM_DIR) $(VENDOR)
	mkdir -p $(NPM_DIR) $(VENDOR)/mathjax $(VENDOR)/html-manager
	cp book/vendor/package.json $(NPM_DIR)/
	cd $(NPM_DIR) && npm install --no-package-lock --no-audit --no-fund --ignore-scripts --loglevel=error
	cp -r $(NPM_DIR)/node_modules/mathjax/es5/. $(VENDOR)/mathjax/
	cp $(NPM_DIR)/node_modules/requirejs/require.js $(VENDOR)/require.js
	cd $(NPM_DIR)/node_modules/@jupyter-widgets/html-manager/dist && \
	  cp embed-amd.js *.woff *.woff2 *.ttf *.eot *.svg $(CURDIR)/$(VENDOR)/html-manager/
	@touch $@

vendor: $(VENDOR_STAMP)

# Debian's chromium for the browser tests (never `playwright install`: no browser downloads).
chromium:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is missing and cannot be installed here: browser tests will skip"; fi

# --- the book ------------------------------------------------------------------------------
book: $(INSTALLED) $(VENDOR_STAMP)
	$(BIN)/jupyter-book build book --builder html
	@echo "open book/_build/html/index.html"

# The same site built from the outputs stored in the notebooks, warnings as errors: broken
# references, citations or toc entries fail the tests. The config is book/_config.yml with
# execution switched off (and the local-extension folder made absolute, as it is resolved
# relative to the config file).
book-stored: $(INSTALLED) $(VENDOR_STAMP)
	mkdir -p $(STORED)
	sed -e 's/^\(  *execute_notebooks:\).*/\1 "off"/' \
	    -e 's#^\(  *offline_site:\) _ext#\1 $(CURDIR)/book/_ext#' book/_config.yml > $(STORED)/_config.yml
	$(BIN)/jupyter-book build book --builder html --config $(STORED)/_config.yml \
	  --path-output $(STORED) --all -W -n --keep-going

# The student edition: the chapters without their solutions, the code cells tagged
# `student-blank` turned into stubs (book/student_edition.py), as a Jupyter Book source tree in
# book/_build/student (open its chapters/*.ipynb in JupyterLab) and its site, built without
# executing anything, in book/_build/student/_build/html.
student: $(INSTALLED) $(VENDOR_STAMP)
	$(BIN)/python book/student_edition.py --html

# --- tests ---------------------------------------------------------------------------------
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(INSTALLED) $(VENDOR_STAMP) chromium lint book-stored
	$(BIN)/python -m pytest --doctest-modules --nbval-lax -p no:cacheprovider \
	  svrnn_lite tests book

clean:
	rm -rf book/_build $(VENDOR)
