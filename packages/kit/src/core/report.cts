/**
 * How long-running operations tell a person what they are doing. Library
 * functions take a Reporter; commands print it, tests collect it.
 */
export interface Reporter {
  /** A step begins ("building the site"). */
  step(text: string): void;
  /** A waiting state changed ("1 of 2 workers healthy"); may overwrite the previous one. */
  progress(text: string): void;
  /** A step ended well. */
  done(text: string): void;
  /** Something worth knowing that does not stop the operation. */
  warn(text: string): void;
  /** Raw output of a child process (a build), line by line. */
  output(line: string): void;
}
