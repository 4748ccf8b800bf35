interface ImportMetaEnv {
  /** When this build was made (astro.config.ts defines it). */
  readonly BUILT_AT: string;
}

declare namespace App {
  /** What the site keeps in Astro.session. */
  interface SessionData {
    name: string;
    visits: number;
    /** Signed in with OPERATOR_PASSWORD on /sign-in (astro-cluster-kit/access sets it). */
    operator: boolean;
  }
}
