# Chorus. `make` lists the targets; `make test` works on a fresh clone (it installs first).
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.PHONY: help install build run dev test test-coverage test-coverage-detailed test-coverage-visualize \
	typecheck service-build service-up service-logs service-down clean system-deps ask bench eval

STAMP := node_modules/.install-stamp
SRC := $(shell find src -name '*.ts' 2>/dev/null)
# System programs the tests drive, as PROGRAM=DEBIAN_PACKAGE: installed by system-deps when missing.
TEST_SYSTEM_DEPS := chromium=chromium redis-server=redis-server redis-cli=redis-tools nginx=nginx

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-24s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(STAMP) ## Install dependencies (skipped when package*.json are unchanged)

dist/index.js: $(STAMP) $(SRC) tsconfig.json tsconfig.build.json
	rm -rf dist
	npx tsc -p tsconfig.build.json

build: dist/index.js ## Compile src/ to dist/

run: build ## Build, then serve in the foreground (variables already set win over .env)
	node dist/index.js

dev: $(STAMP) ## Serve from src/ and restart on changes
	npx tsx watch src/index.ts

system-deps: ## Install the system programs the tests drive (chromium, redis-server, nginx; apt-get) when missing
	bash test/system-deps.sh $(TEST_SYSTEM_DEPS)

test: $(STAMP) system-deps ## Install npm deps and the tests' system programs when missing, run the whole suite
	npx vitest run

test-coverage: $(STAMP) system-deps ## Run the tests with coverage (thresholds in vitest.config.ts)
	npx vitest run --coverage

test-coverage-detailed: $(STAMP) system-deps ## Coverage with a per-file table
	npx vitest run --coverage --coverage.reporter=text

test-coverage-visualize: $(STAMP) system-deps ## Coverage as an HTML report
	@npx vitest run --coverage --coverage.reporter=html; rc=$$?; \
	  echo "HTML report: $(CURDIR)/coverage/index.html"; exit $$rc

# .env is read for HTTP_ADDR (where `make run` listens); CHORUS_URL or --url in ARGS win over it.
ask: build ## Ask a running Chorus (CHORUS_URL, else HTTP_ADDR from .env): make ask Q="Why is the sky blue?" [ARGS=--json]
	node $(if $(wildcard .env),--env-file=.env) dist/cli/chorus.js $(ARGS) "$$Q"

eval: $(STAMP) ## Is the council worth it? Presets vs one agent alone, judged pairwise; in-process, mock LLM unless USE_LLM_MOCK=false (report: eval-output/); EVAL_ARGS=...
	npx tsx src/cli/chorus.ts eval --local $(EVAL_ARGS)

typecheck: $(STAMP) ## Type-check src/, test/, bench/ and scripts/ (tsc --noEmit)
	npx tsc --noEmit

bench: $(STAMP) ## Benchmark Chorus against a naive reference (bench/results/latest.md); NODE_BIN=/path/to/node, BENCH_ARGS=--quick
	npx tsc -p tsconfig.build.json
	npx tsc -p bench/tsconfig.json
	$(or $(NODE_BIN),node) bench/dist/run.js $(BENCH_ARGS)

service-build: ## Build the Docker image
	docker compose build

service-up: ## Start Chorus and Redis with Docker Compose (other shapes: the profiles in docker-compose.yaml)
	docker compose up -d --build

service-logs: ## Follow the service logs
	docker compose logs -f

service-down: ## Stop and remove the containers
	docker compose down

clean: ## Remove dist/, coverage/, test-output/ and bench output (node_modules stays)
	rm -rf dist coverage test-output .ci/.node24 bench/dist
