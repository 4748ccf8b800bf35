interface ImportMetaEnv {
  /** Set per build by integrations/build-info.ts. */
  readonly BUILD_ID: string;
}
