# The backend (drain, config sync, CRM delivery, API, dashboard) as a container. The edge is deployed with wrangler.
# The runtime stage installs what scripts/test/production-install.test.ts installs and checks: runtime dependencies
# only, then `node backend-consumer/src/main.ts` (Node runs the TypeScript directly; Node >= 22.18).

# 1. Build the dashboard (esbuild, Preact and uPlot are dev dependencies).
FROM node:22-bookworm-slim AS dashboard
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN node scripts/build-dashboard.ts

# 2. The runtime: runtime dependencies, the sources the backend imports, the built dashboard; not root.
FROM node:22-bookworm-slim
ENV NODE_ENV=production BACKEND_HOST=0.0.0.0 BACKEND_PORT=8790
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY contracts ./contracts
COPY backend-consumer/src ./backend-consumer/src
COPY drizzle ./drizzle
COPY --from=dashboard /src/backend-consumer/dashboard/dist ./backend-consumer/dashboard/dist
USER node
EXPOSE 8790
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.BACKEND_PORT}/readyz`).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "backend-consumer/src/main.ts"]
