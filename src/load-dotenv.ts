import { existsSync } from "node:fs";

// Scripts and the worker run outside Next.js, which would otherwise load .env for us.
// Variables already set in the environment win over the file (Node's loadEnvFile never overwrites).
if (existsSync(".env")) process.loadEnvFile(".env");
