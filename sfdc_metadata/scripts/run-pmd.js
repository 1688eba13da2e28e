#!/usr/bin/env node
/*
 * PMD (security and error-prone categories, pmd-ruleset.xml) on the Apex in force-app.
 * PMD 7 itself comes from the npm package @salesforce/code-analyzer-pmd-engine, which ships its
 * jars; scripts/RunPmd.java drives PMD's public API (Java 11+ with the JDK's source launcher).
 */
'use strict';

const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const engine = path.dirname(require.resolve('@salesforce/code-analyzer-pmd-engine/package.json'));
const classpath = path.join(engine, 'dist', 'java-lib', '*');
const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';

const result = spawnSync(
    java,
    ['-cp', classpath, path.join(__dirname, 'RunPmd.java'), path.join(root, 'pmd-ruleset.xml'), path.join(root, 'force-app')],
    { stdio: 'inherit' }
);
if (result.error) {
    console.error(`PMD needs Java 11 or newer (a JDK) on PATH or in JAVA_HOME: ${result.error.message}`);
    process.exit(2);
}
process.exit(result.status === null ? 1 : result.status);
