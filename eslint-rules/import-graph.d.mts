export function sources(dir: string): string[];
export function fileGraph(dir: string): Map<string, Set<string>>;
export function folderOf(dir: string, file: string): string;
export function folderGraph(dir: string): Map<string, Set<string>>;
export function cycles(graph: Map<string, Set<string>>): string[][];
