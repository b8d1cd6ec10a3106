# The companion service: API + built dashboard in one image.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build:dashboard && npm run build:service && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production PORT=8787 DASHBOARD_DIR=/app/dashboard/dist DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/package.json ./
COPY --from=build /app/dist/service ./dist/service
COPY --from=build /app/migrations ./migrations
COPY --from=build /app/dashboard/dist ./dashboard/dist
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8787
# Migrations are applied on start (under an advisory lock: safe with N replicas).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8787)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--enable-source-maps", "dist/service/index.js"]
