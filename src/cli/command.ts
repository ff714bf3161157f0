// What every command module exports. main.ts lists them in one table.
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<void>;
}
