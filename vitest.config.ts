import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["@docker-plugin-kit/source"] },
  ssr: { resolve: { conditions: ["@docker-plugin-kit/source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "packages/cli/templates/*/test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000
  }
})
