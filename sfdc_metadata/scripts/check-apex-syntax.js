#!/usr/bin/env node
/*
 * Offline Apex syntax check: parses every .cls and .trigger under the given directories with
 * @apexdevtools/apex-parser (the ANTLR grammar of the Apex compiler) and fails on any lexer or
 * parser error. This catches syntax errors, not type errors: only an org compiles Apex fully.
 *
 * Usage: node scripts/check-apex-syntax.js [dir ...]   (default: force-app)
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { ApexParserFactory, ApexErrorListener } = require('@apexdevtools/apex-parser');

class CollectingListener extends ApexErrorListener {
    constructor() {
        super();
        this.errors = [];
    }

    apexSyntaxError(line, column, msg) {
        this.errors.push({ line, column, msg });
    }
}

function* walk(dir) {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) yield* walk(full);
        else if (/\.(cls|trigger)$/.test(entry.name)) yield full;
    }
}

function check(file) {
    const source = fs.readFileSync(file, 'utf8');
    const listener = new CollectingListener();
    const { parser } = ApexParserFactory.createLexerAndParser(source, listener);
    if (file.endsWith('.trigger')) parser.triggerUnit();
    else parser.compilationUnit();
    return listener.errors;
}

function main(argv) {
    const roots = argv.length ? argv : ['force-app'];
    let files = 0;
    let failures = 0;
    for (const root of roots) {
        for (const file of walk(root)) {
            files += 1;
            for (const e of check(file)) {
                failures += 1;
                console.log(`${file}:${e.line}:${e.column}: ${e.msg}`);
            }
        }
    }
    if (files === 0) {
        console.log(`no Apex files under ${roots.join(', ')}`);
        return 1;
    }
    console.error(`lint:apex: ${files} Apex files, ${failures} syntax error(s)`);
    return failures ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
