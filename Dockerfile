# Chorus: build with the dev dependencies, then run dist/ with the production ones only.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci runs it (postinstall): a fix to undici until a release carries it.
COPY scripts/patch-undici.mjs ./scripts/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/patch-undici.mjs ./scripts/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
# The image's environment wins over .env (the app reads .env itself and never overrides).
ENV NODE_ENV=production PRODUCTION=true HTTP_ADDR=:8080
WORKDIR /app
# Owned by root, read-only to the `node` user that runs the app.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY prompts ./prompts
COPY public ./public
COPY .env ./
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
# node is PID 1 and handles SIGTERM itself: it drains for SHUTDOWN_GRACE_MS (give `docker stop` -t 40).
CMD ["node", "dist/index.js"]
