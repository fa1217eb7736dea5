# Two commands are all a newcomer needs (see README.md):
#   make book   - install, generate the stand-in data, run every notebook, build _build/html
#   make test   - install, run the test suite
# Both create .venv from requirements.txt when it is missing or older than requirements.txt.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
QUIET_PIP := { grep -v "^WARNING: Location" || true; }
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= quick
STUDY_ARGS ?=
PUBLISH ?=
# The repository's web address for the book's repository, edit and issue buttons. The publishing
# workflow passes it from the CI context; left empty (a local build) the pages link the README
# rendered in the book instead of a guessed URL. The branch the edit links open.
BOOK_REPOSITORY_URL ?=
BOOK_REPOSITORY_BRANCH ?= main

.PHONY: book test lint bench run check-book clean-book clean launch-branch

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt 2>&1 | $(QUIET_PIP)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . 2>&1 | $(QUIET_PIP)
	$(BIN)/python -c "import mer_utils, tensorflow, dlib, cv2, papermill, jupyter_book"
	@touch $@

test: lint
	$(BIN)/python -m pytest

# Lint and format check (ruff, configured in pyproject.toml); `make test` runs it first.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Run the notebook grid (papermill) into book/; `make book` then compiles it.
run: $(STAMP)
	$(BIN)/python -m mer_utils.build --profile $(PROFILE) $(STUDY_ARGS)

# PUBLISH=1 (the publishing workflow): refuse a book whose pages used licensed data unless
# MER_PUBLISH_LICENSED=yes says the licences allow it.
book: run
	BOOK_REPOSITORY_URL="$(BOOK_REPOSITORY_URL)" BOOK_REPOSITORY_BRANCH="$(BOOK_REPOSITORY_BRANCH)" \
	  $(BIN)/jupyter-book build . -W --keep-going
	@if [ -n "$(PUBLISH)" ]; then $(BIN)/python -m mer_utils.build --check-publish; fi

# What the book's launch buttons (Binder, Colab) open, for the publishing workflow after
# `make book`: the built commit plus every executed per-dataset page with its launch cell
# (mer_utils/build/launch.py), committed in a separate work tree and pushed to LAUNCH_BRANCH. The
# book itself is left as it is. Build the book with BOOK_LAUNCH_BRANCH set to show the buttons.
LAUNCH_BRANCH ?= launch
LAUNCH_TREE := .cache/launch-tree
launch-branch: $(STAMP)
	@test -n "$(BOOK_REPOSITORY_URL)" || { echo "make launch-branch: BOOK_REPOSITORY_URL is not set" >&2; exit 2; }
	rm -rf $(LAUNCH_TREE) && git worktree prune
	git worktree add --detach $(LAUNCH_TREE) HEAD
	$(BIN)/python -m mer_utils.build.launch book $(LAUNCH_TREE) \
	  --repository "$(BOOK_REPOSITORY_URL)" --commit "$$(git rev-parse HEAD)"
	cd $(LAUNCH_TREE) && git add -f book/datasets && \
	  git -c user.name=mer-book -c user.email=mer-book@users.noreply.github.com commit -q \
	    -m "The book's executed pages with launch cells, built from $$(git rev-parse --short HEAD)" && \
	  git push -f origin HEAD:refs/heads/$(LAUNCH_BRANCH)

# Check the built pages as a reader sees them: in the markup (tests/test_book_html.py: truncated
# tables, oversized images, scientific notation, machine paths, a CDN MathJax, broken links) and
# in headless Chromium at 1400 and 390 px (tests/test_book_browser.py: tables and figures wider
# than their column, figure text under 75 % of the body text, stderr output, stale banners).
# Installs the distribution's Chromium with apt-get when it is missing (playwright, from
# requirements.txt, drives it; it never downloads a browser). Unlike `make test`, which skips
# these checks without a build or a browser, this fails when either is missing.
# The first Chromium on the PATH (GitHub's Ubuntu runners ship chromium-browser and Chrome).
CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser || command -v google-chrome \
  || echo /usr/bin/chromium)
check-book: $(STAMP)
	@test -x "$(CHROMIUM)" || { \
	  echo "Installing Chromium (apt-get install chromium fonts-dejavu-core)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-dejavu-core; }
	BOOK_HTML_REQUIRED=1 CHROMIUM="$(CHROMIUM)" $(BIN)/python -m pytest -q \
	  tests/test_book_html.py tests/test_book_browser.py

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean-book:
	rm -rf _build book/datasets book/summary book/results book/generated

clean: clean-book
	rm -rf $(VENV) data/standins .cache
