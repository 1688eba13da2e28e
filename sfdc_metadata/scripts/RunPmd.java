import java.nio.file.Paths;
import java.util.List;

import net.sourceforge.pmd.PMDConfiguration;
import net.sourceforge.pmd.PmdAnalysis;
import net.sourceforge.pmd.lang.LanguageRegistry;
import net.sourceforge.pmd.lang.rule.RulePriority;
import net.sourceforge.pmd.reporting.Report;
import net.sourceforge.pmd.reporting.RuleViolation;

/**
 * Runs PMD 7 (its public PmdAnalysis API) on Apex sources: RunPmd <ruleset.xml> <dir>...
 * Prints one "path:line: Rule: message" line per violation and exits 1 when there is any
 * violation, suppressed violation, processing or configuration error, or when the ruleset
 * turned out empty (a check that cannot fail is no check).
 */
public class RunPmd {
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: RunPmd <ruleset.xml> <source dir>...");
            System.exit(2);
        }
        PMDConfiguration config = new PMDConfiguration();
        config.setRuleSets(List.of(args[0]));
        for (int i = 1; i < args.length; i++) {
            config.addInputPath(Paths.get(args[i]));
        }
        config.setOnlyRecognizeLanguage(LanguageRegistry.PMD.getLanguageById("apex"));
        config.setIgnoreIncrementalAnalysis(true);
        config.setMinimumPriority(RulePriority.LOW);
        try (PmdAnalysis pmd = PmdAnalysis.create(config)) {
            int rules = pmd.getRulesets().stream().mapToInt(ruleSet -> ruleSet.getRules().size()).sum();
            int files = pmd.files().getCollectedFiles().size();
            Report report = pmd.performAnalysisAndCollectReport();
            int problems = 0;
            for (RuleViolation v : report.getViolations()) {
                System.out.println(v.getFileId().getOriginalPath() + ":" + v.getBeginLine() + ": "
                        + v.getRule().getName() + ": " + v.getDescription());
                problems++;
            }
            for (Report.SuppressedViolation s : report.getSuppressedViolations()) {
                RuleViolation v = s.getRuleViolation();
                System.out.println(v.getFileId().getOriginalPath() + ":" + v.getBeginLine() + ": "
                        + v.getRule().getName() + ": suppressed (fix it instead): " + v.getDescription());
                problems++;
            }
            for (Report.ProcessingError e : report.getProcessingErrors()) {
                System.out.println(e.getFileId().getOriginalPath() + ": processing error: " + e.getMsg());
                problems++;
            }
            for (Report.ConfigurationError e : report.getConfigurationErrors()) {
                System.out.println("configuration error: " + e.rule().getName() + ": " + e.issue());
                problems++;
            }
            if (rules == 0 || files == 0) {
                System.out.println("PMD ran " + rules + " rules on " + files + " files: nothing was checked");
                System.exit(1);
            }
            System.err.println("PMD " + net.sourceforge.pmd.PMDVersion.VERSION + ": " + rules + " rules on " + files
                    + " files: " + (problems == 0 ? "OK" : problems + " problem(s)"));
            System.exit(problems == 0 ? 0 : 1);
        }
    }
}
