#!/usr/bin/env node
import { runCli } from './cli/index.js';

// The AWS SDK warns on every start under Node 20 that its releases from January 2027 will need
// Node 22. Berth pins an SDK release that supports Node 20 (package.json), so the warning says
// nothing an operator can act on and only pushes a multi-line notice into the logs.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

process.exitCode = await runCli(process.argv);
