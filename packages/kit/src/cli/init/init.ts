export interface InitOptions { yes: boolean } export interface InitResult { written: string[] } export async function initProject(): Promise<InitResult> { throw new Error('todo'); }
