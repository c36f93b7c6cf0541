export class Valet {}
