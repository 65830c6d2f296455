// The part of madge's API (it ships no types) that test/architecture.test.ts uses.
declare module "madge" {
  interface MadgeResult {
    /** Each file (relative to the base dir) → the files it imports. */
    obj(): Record<string, string[]>;
    /** Every import cycle, as the files along it. */
    circular(): string[][];
  }
  interface MadgeConfig {
    fileExtensions?: string[];
    tsConfig?: string;
  }
  export default function madge(path: string, config?: MadgeConfig): Promise<MadgeResult>;
}
