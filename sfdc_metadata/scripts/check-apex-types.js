#!/usr/bin/env node
/*
 * Offline semantic check of the Apex: apex-ls (Apex Dev Tools' language server, shipped in the
 * jars of @salesforce/code-analyzer-pmd-engine with Salesforce's standard and SObject types)
 * resolves every type, method, field, Custom Label and SObject of the project as an org's
 * compiler would and fails on what it cannot resolve: an unknown field, a label missing from
 * CustomLabels, a method called with the wrong arguments. It does not run tests.
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
    ['-cp', classpath, 'io.github.apexdevtools.apexls.CheckForIssues', '--nocache', '--detail', 'warnings', '--workspace', root],
    { encoding: 'utf8' }
);
if (result.error) {
    console.error(`apex-ls needs Java 11 or newer on PATH or in JAVA_HOME: ${result.error.message}`);
    process.exit(2);
}
const output = `${result.stdout}${result.stderr}`.trim();
if (output) console.log(output);
if (result.status !== 0 || output) {
    console.error(`check:apex: apex-ls found problems (exit ${result.status})`);
    process.exit(1);
}
console.error('check:apex: apex-ls resolved every type, field and label: OK');
