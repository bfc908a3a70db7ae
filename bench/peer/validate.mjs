// Validator throughput of oidc-spa/server on one core, the twin of bench/validators.py:
//   node validate.mjs CASE FIXTURE [SECONDS]
// Prints one JSON line: validations per second for each timed run (after one warm-up).
// Each call does what oidc-spa's Hono/Express integration does per request:
// extractRequestAuthContext (Authorization + DPoP headers, expected htu/htm), then
// validateAndDecodeAccessToken. Any refusal aborts the run: only accepted tokens count.
import { readFileSync } from "node:fs";
import { oidcSpa, extractRequestAuthContext } from "oidc-spa/server";

const [caseName, fixturePath, secondsArg] = process.argv.slice(2);
const fixture = JSON.parse(readFileSync(fixturePath, "utf8"));
const testCase = fixture.cases[caseName];
const seconds = Number(secondsArg ?? "1");
const runs = fixture.runs ?? 5;

const { bootstrapAuth, validateAndDecodeAccessToken } = oidcSpa.createUtils();
await bootstrapAuth({
    implementation: "real",
    issuerUri: fixture.issuer,
    expectedAudience: fixture.audience
});

function request(authorization, dpop) {
    return {
        type: "unified",
        method: "GET",
        pseudoHeaders: { ":scheme": "http", ":authority": "api.bench", ":path": "/api/me" },
        headers: {
            Authorization: authorization,
            DPoP: dpop,
            Forwarded: undefined,
            "X-Forwarded-Proto": undefined,
            "X-Forwarded-Host": undefined
        }
    };
}

async function validate(authorization, dpop) {
    const context = extractRequestAuthContext({ request: request(authorization, dpop), trustProxy: false });
    if (context === undefined || !context.isWellFormed) {
        throw new Error(`malformed request: ${context?.debugErrorMessage}`);
    }
    const result = await validateAndDecodeAccessToken(context.accessTokenAndMetadata);
    if (!result.isSuccess) {
        throw new Error(`refused: ${result.debugErrorMessage}`);
    }
    return result;
}

const call =
    caseName === "dpop"
        ? proof => validate(`DPoP ${testCase.token}`, proof)
        : token => validate(`Bearer ${token}`, undefined);

async function timedBatch(items) {
    const start = process.hrtime.bigint();
    for (const item of items) {
        await call(item);
    }
    return items.length / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function timedRepeat(item) {
    let count = 0;
    const start = process.hrtime.bigint();
    for (;;) {
        for (let i = 0; i < 200; i++) {
            await call(item);
        }
        count += 200;
        const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
        if (elapsed >= seconds) {
            return count / elapsed;
        }
    }
}

const results = [];
if (testCase.batches !== undefined) {
    for (const batch of testCase.batches) {
        results.push(await timedBatch(batch));
    }
} else {
    for (let run = 0; run <= runs; run++) {
        results.push(await timedRepeat(testCase.token));
    }
}
console.log(JSON.stringify({ ops_per_s: results.slice(1) }));
process.exit(0);
