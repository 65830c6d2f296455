# Chorus. `make` lists the targets; `make test` works on a fresh clone (it installs first).
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.PHONY: help install build run dev test test-coverage test-coverage-detailed test-coverage-visualize \
	typecheck service-build service-up service-logs service-down clean

STAMP := node_modules/.install-stamp
SRC := $(shell find src -name '*.ts' 2>/dev/null)

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

test: $(STAMP) ## Run the tests
	npx vitest run

test-coverage: $(STAMP) ## Run the tests with coverage (thresholds in vitest.config.ts)
	npx vitest run --coverage

test-coverage-detailed: $(STAMP) ## Coverage with a per-file table
	npx vitest run --coverage --coverage.reporter=text

test-coverage-visualize: $(STAMP) ## Coverage as an HTML report
	@npx vitest run --coverage --coverage.reporter=html; rc=$$?; \
	  echo "HTML report: $(CURDIR)/coverage/index.html"; exit $$rc

typecheck: $(STAMP) ## Type-check src/ and test/
	npx tsc --noEmit

service-build: ## Build the Docker image
	docker compose build

service-up: ## Start the service (and Redis) with Docker Compose
	docker compose up -d --build

service-logs: ## Follow the service logs
	docker compose logs -f

service-down: ## Stop and remove the containers
	docker compose down

clean: ## Remove build output and reports (node_modules stays)
	rm -rf dist coverage test-output .ci/.node24
