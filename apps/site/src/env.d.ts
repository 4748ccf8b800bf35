interface ImportMetaEnv {
  /** Set per build by integrations/build-info.ts. */
  readonly BUILD_ID: string;
}

declare namespace App {
  /** What the site keeps in Astro.session. */
  interface SessionData {
    name: string;
    visits: number;
  }
}
