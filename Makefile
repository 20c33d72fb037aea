# proctor — run a code-execution competition's submissions exactly as the platform does.
# `make help` lists the targets. Variables: CPU_OR_GPU (detected), IMAGE (from competition.yml), FORCE=1,
# SUBMISSION (what test-submission runs: a zip, or an image saved with `docker save`; default submission.zip),
# MODEL (an image's model tarball, model.tar.gz), COMPETITION (its competition.yml; default competition.yml).

.DEFAULT_GOAL := help
SHELL := /bin/bash

CPU_OR_GPU ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)
PROCTOR := node build/proctor.mjs
SUBMISSION_ZIP ?= submission.zip
SUBMISSION ?= $(SUBMISSION_ZIP)
SUBMISSION_SRC ?= submission_src
# Where DrivenData's runtimes pack the zip (their make pack-submission): test-submission runs it when there is
# no $(SUBMISSION_ZIP), saying so.
DRIVENDATA_ZIP := submission/submission.zip
COMPETITION ?= competition.yml
# The competition's example: example_submission/ beside its competition.yml.
EXAMPLE_SRC = $(patsubst ./%,%,$(dir $(COMPETITION))example_submission)
# The image names live in competition.yml: proctor reads them (and says what is wrong with the file).
IMAGE = $(shell $(PROCTOR) image-ref --flavour $(CPU_OR_GPU))
OFFLINE_IMAGE = $(shell $(PROCTOR) image-ref --flavour offline)

build/proctor.mjs: package.json package-lock.json $(shell find src -name '*.ts' -not -name '*.test.ts' 2>/dev/null)
	@[ -d node_modules ] || npm ci --no-audit --no-fund
	@npm run build --silent

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}'
	@echo "  CPU_OR_GPU=$(CPU_OR_GPU) (detected with nvidia-smi; override with make ... CPU_OR_GPU=cpu)"

.PHONY: install
install: build/proctor.mjs ## install the node packages and build the proctor CLI

.PHONY: setup
setup: ## set this machine up for the tests (Debian packages, Docker engine, base image, npm ci, build)
	bash scripts/setup-machine.sh

.PHONY: test
test: setup ## the tests, from a fresh clone: set-up as above, then lint, then every test (as CI does)
	npm run lint
	npx vitest run

.PHONY: engine
engine: ## make sure a Docker engine runs, with gVisor registered (installs Debian's docker.io and runsc as root)
	@bash scripts/ensure-engine.sh

.PHONY: pull
pull: build/proctor.mjs ## pull the published runtime image for CPU_OR_GPU
	@docker pull $(IMAGE) || { code=$$?; echo "could not pull $(IMAGE) (see above). Without it, make test-submission stands in the offline flavour by itself, saying what differs (make build-offline builds it now, no internet needed)" >&2; exit $$code; }

.PHONY: pull-models
pull-models: build/proctor.mjs ## pull the models image the runs mount (competition.yml runtime.models; docs/models.md)
	@ref=$$($(PROCTOR) runtime models ref --config "$(COMPETITION)") || exit 2; \
	if [ -n "$$ref" ]; then docker pull "$$ref"; fi

.PHONY: build
build: build/proctor.mjs ## build the production runtime image (needs internet: conda-forge, Docker Hub)
	docker build --build-arg CPU_OR_GPU=$(CPU_OR_GPU) -f runtime/Dockerfile -t $(IMAGE) .

.PHONY: build-offline
build-offline: build/proctor.mjs engine ## build the offline runtime flavour from Debian's packages (no internet needed)
	@image="$(OFFLINE_IMAGE)"; [ -n "$$image" ] || exit 2; IMAGE=$$image bash scripts/build-offline-image.sh

# Locks: runtime/lock/offline.lock from Debian's mirror (debootstrap resolves; needs root), and
# runtime/lock/<cpu|gpu>.conda-lock.yml from conda-forge with conda-lock (where conda-forge is reachable: the
# runtime workflow runs it on pull requests). `proctor runtime check-lock` checks the conda ones offline.
FLAVOUR ?= offline
CONDA_LOCK ?= pipx run --spec conda-lock==3.0.4 conda-lock

.PHONY: lock
lock: ## lock a flavour's packages: FLAVOUR=offline (Debian's mirror), cpu or gpu (conda-forge, conda-lock)
	@case "$(FLAVOUR)" in \
	  offline) bash scripts/offline-lock.sh write ;; \
	  cpu|gpu) $(CONDA_LOCK) lock --micromamba --check-input-hash --platform linux-64 \
	    --file environment-$(FLAVOUR).yml --virtual-package-spec runtime/lock/virtual-packages-$(FLAVOUR).yml \
	    --lockfile runtime/lock/$(FLAVOUR).conda-lock.yml ;; \
	  *) echo "FLAVOUR must be offline, cpu or gpu, not $(FLAVOUR)"; exit 2 ;; \
	esac

.PHONY: sbom
sbom: build/proctor.mjs engine ## SBOM and licence report of a runtime image in .proctor/sbom/ (FLAVOUR=offline builds it if needed)
	@if [ "$(FLAVOUR)" = offline ]; then image="$(OFFLINE_IMAGE)"; [ -n "$$image" ] || exit 2; \
	  IMAGE=$$image bash scripts/build-offline-image.sh >/dev/null || exit 2; \
	else image=$$($(PROCTOR) image-ref --flavour $(FLAVOUR)) || exit 2; fi; \
	$(PROCTOR) runtime sbom --image "$$image" --out .proctor/sbom/$(FLAVOUR).cdx.json || $(PROCTOR_FAILED)

.PHONY: pack-example
pack-example: build/proctor.mjs ## zip example_submission/ (the one beside COMPETITION) into submission.zip (FORCE=1 replaces it)
	@$(PROCTOR) pack $(EXAMPLE_SRC) -o $(SUBMISSION_ZIP) $(if $(FORCE),--force) || $(PACK_FAILED)

.PHONY: pack-submission
pack-submission: build/proctor.mjs ## zip submission_src/ into submission.zip (FORCE=1 replaces it)
	@[ -d $(SUBMISSION_SRC) ] || { echo "no $(SUBMISSION_SRC)/ folder: put your main.py and model files there (see example_submission/)"; exit 2; }
	@$(PROCTOR) pack $(SUBMISSION_SRC) -o $(SUBMISSION_ZIP) $(if $(FORCE),--force) || $(PACK_FAILED)

# The image a local run uses: the competition's, else the offline flavour. When competition.yml is wrong,
# proctor says what and where, and the target stops.
RUNTIME_IMAGE = image=$$(COMPETITION="$(COMPETITION)" bash scripts/runtime-image.sh $(CPU_OR_GPU)) || exit 2

# After a proctor command that failed: its own exit code and what it means, before make's "Error" line
# (GNU make itself exits 2 whatever the recipe's code was).
PROCTOR_FAILED = { code=$$?; case $$code in \
  1) why="the submission's doing: see above, fix it and run again" ;; \
  2) why="a usage or configuration error: see the message above" ;; \
  3) why="not the submission's doing: the competition's set-up or the engine, as the message above says; fix that and run again" ;; \
  *) why="see the messages above" ;; esac; \
  echo "proctor exited $$code: $$why" >&2; exit $$code; }

# After a failed proctor pack: the make way to replace an existing zip.
PACK_FAILED = { code=$$?; if [ -e "$(SUBMISSION_ZIP)" ] && [ -z "$(FORCE)" ]; then \
  echo "make $@ FORCE=1 replaces $(SUBMISSION_ZIP)" >&2; fi; exit $$code; }

.PHONY: check
check: build/proctor.mjs ## check the competition's setup in seconds without running a submission (KEY=keys/leaderboard.key.pem checks the sealing key pair)
	@$(PROCTOR) check $(if $(KEY),--key "$(KEY)") || $(PROCTOR_FAILED)

.PHONY: test-submission
test-submission: build/proctor.mjs engine ## run submission.zip (else submission/submission.zip), SUBMISSION=algorithm.tar (docker save), or the example, exactly as the platform: run, validate, score, rank
	@$(RUNTIME_IMAGE); \
	submission="$(SUBMISSION)"; \
	if [ ! -f "$$submission" ] && [ "$$submission" = "$(SUBMISSION_ZIP)" ] && [ -f "$(DRIVENDATA_ZIP)" ]; then \
	  echo "no $(SUBMISSION_ZIP): testing $(DRIVENDATA_ZIP) (where DrivenData's runtimes pack it; make pack-submission writes $(SUBMISSION_ZIP))"; \
	  submission="$(DRIVENDATA_ZIP)"; fi; \
	if [ -f "$$submission" ]; then $(PROCTOR) test-submission --config "$(COMPETITION)" --submission "$$submission" $(if $(MODEL),--model "$(MODEL)") --image "$$image" $(if $(filter gpu,$(CPU_OR_GPU)),--gpu) || $(PROCTOR_FAILED); \
	elif [ "$(SUBMISSION)" != "$(SUBMISSION_ZIP)" ]; then echo "no $(SUBMISSION): save your image first (docker save my-algorithm:latest | gzip -c > $(SUBMISSION))"; exit 2; \
	elif [ ! -d "$(EXAMPLE_SRC)" ]; then echo "no $(SUBMISSION_ZIP) to test (and no $(EXAMPLE_SRC)/ beside $(COMPETITION)): make pack-submission packs your $(SUBMISSION_SRC)/ into it"; exit 2; \
	else if [ -d "$(SUBMISSION_SRC)" ]; then echo "no $(SUBMISSION_ZIP) yet: testing $(EXAMPLE_SRC)/, not your $(SUBMISSION_SRC)/ (make pack-submission packs it)"; \
	  else echo "no $(SUBMISSION_ZIP) yet: testing $(EXAMPLE_SRC)/ (make pack-submission packs yours)"; fi; \
	  $(PROCTOR) test-submission --config "$(COMPETITION)" --from "$(EXAMPLE_SRC)" --image "$$image" $(if $(filter gpu,$(CPU_OR_GPU)),--gpu) || $(PROCTOR_FAILED); fi

.PHONY: test-container
test-container: build/proctor.mjs engine ## check that every package of the image's environment file imports inside it
	@$(RUNTIME_IMAGE); \
	if [ "$$image" = "$(OFFLINE_IMAGE)" ]; then env=runtime/environment-offline.yml; else env=environment-$(CPU_OR_GPU).yml; fi; \
	$(PROCTOR) test-image --image "$$image" --environment "$$env" $(if $(filter gpu,$(CPU_OR_GPU)),--gpu) || { code=$$?; \
	  if [ $$code -eq 1 ]; then echo "proctor exited 1: a package of $$env does not import in $$image (see above): the image lacks it, or is not the one $$env describes" >&2; exit 1; fi; \
	  (exit $$code) || $(PROCTOR_FAILED); }

.PHONY: interact-container
interact-container: build/proctor.mjs engine ## a shell in the run's own container (mounts, limits, working folder, environment)
	@$(RUNTIME_IMAGE); \
	$(PROCTOR) interact --config "$(COMPETITION)" --image "$$image" --from "$$([ -d $(SUBMISSION_SRC) ] && echo $(SUBMISSION_SRC) || echo $(EXAMPLE_SRC))" $(if $(filter gpu,$(CPU_OR_GPU)),--gpu)

.PHONY: leaderboard
leaderboard: build/proctor.mjs ## show the local leaderboard
	$(PROCTOR) leaderboard show

.PHONY: clean
clean: ## remove the local leaderboard, last predictions, submission.zip and the build
	rm -rf .proctor build $(SUBMISSION_ZIP)
